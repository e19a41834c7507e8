package io.jvhost.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import io.jvhost.device.vsock.Siblings;
import io.jvhost.device.vsock.UdsHost;
import io.jvhost.device.vsock.VsockDevice;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost vsock}: virtio-vsock over hybrid Unix sockets, flag-compatible with rust-vmm's vhost-device-vsock
 * (one VM from the single-VM flags, or several from repeated {@code --vm} or a YAML {@code --config}).
 */
@Command(name = "vsock", mixinStandardHelpOptions = true,
    description = {"virtio-vsock back-end (hybrid vsock over Unix sockets), flag-compatible with vhost-device-vsock.",
        "Guest connects to host port P: the back-end connects to UDS_PATH_P. Host connects to guest port P: connect"
            + " to UDS_PATH, send \"CONNECT P\\n\", read \"OK <host port>\\n\".",
        "QEMU 10: -chardev socket,id=c,path=SOCKET -device vhost-user-vsock-pci,chardev=c"})
final class VsockCommand implements Callable<Integer>
{
    /** One VM's settings. */
    record Vm(long guestCid, Path socket, Path udsPath, int txBufferSize, int queueSize, List<String> groups)
    {
    }

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--guest-cid", paramLabel = "CID",
        description = "Context identifier of the guest (3 and up). Default: 3.")
    private Long guestCid;

    @Option(names = "--socket", paramLabel = "PATH", description = "vhost-user Unix socket to listen on.")
    private Path socket;

    @Option(names = "--uds-path", paramLabel = "PATH",
        description = "Host side: listens here for CONNECT requests; guest connections go to PATH_<port>.")
    private Path udsPath;

    @Option(names = "--tx-buffer-size", paramLabel = "BYTES",
        description = "Per connection: guest bytes held for a slow host reader (the credit the guest gets)."
            + " Default: 65536.")
    private Long txBufferSize;

    @Option(names = "--queue-size", paramLabel = "N",
        description = "Largest virtqueue the driver may use (a power of two, 1..32768). Default: 1024.")
    private Integer queueSize;

    @Option(names = "--groups", paramLabel = "G1+G2",
        description = "Sibling groups of this VM, '+'-separated: VMs of this process that share a group reach each"
            + " other by CID. Default: default.")
    private String groups;

    @Option(names = "--vm", paramLabel = "KEY=VALUE,...",
        description = "One VM (repeatable): guest-cid=..,socket=..,uds-path=..[,tx-buffer-size=..][,queue-size=..]"
            + "[,groups=..] (keys also with '_').")
    private List<String> vms = new ArrayList<>();

    @Option(names = "--config", paramLabel = "FILE.yaml",
        description = "VMs from YAML: a 'vms' list of maps with the --vm keys (guest_cid, socket, uds_path, ...).")
    private Path config;

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    private boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message (debug level).")
    private boolean verbose;

    @Override
    public Integer call()
    {
        if (printCapabilities)
        {
            System.out.println("{\n  \"type\": \"vsock\"\n}");
            return 0;
        }
        if (verbose)
        {
            Logging.setLevel("debug");
        }
        final List<Vm> list = vms();
        final List<UdsHost> hosts = new ArrayList<>();
        final List<VsockDevice> devices = new ArrayList<>();
        try
        {
            // Every VM of this process may reach those sharing one of its groups by CID (sibling VMs).
            final Siblings siblings = new Siblings();
            for (final Vm vm : list)
            {
                final int i = hosts.size();
                hosts.add(UdsHost.listen("vsock" + i, vm.udsPath(), VsockDevice.MAX_CONNECTIONS));
                final VsockDevice device = new VsockDevice("vsock" + i, vm.guestCid(), vm.txBufferSize(),
                    vm.queueSize(), hosts.get(i));
                devices.add(device);
                siblings.add(device, vm.groups());
            }
            final List<Path> sockets = list.stream().map(Vm::socket).toList();
            return DeviceRunner.serve("vsock", sockets, devices::get);
        }
        catch (final IOException | RuntimeException e)
        {
            System.err.println("jvhost vsock: " + e.getMessage());
            return 1;
        }
        finally
        {
            devices.forEach(VsockDevice::close);
            hosts.forEach(UdsHost::close);
        }
    }

    /**
     * @return the VMs the flags describe, checked (CIDs, sockets and uds paths distinct; values in range).
     */
    List<Vm> vms()
    {
        final boolean single = null != guestCid || null != socket || null != udsPath || null != txBufferSize
            || null != queueSize || null != groups;
        final int forms = (single ? 1 : 0) + (vms.isEmpty() ? 0 : 1) + (null == config ? 0 : 1);
        if (forms != 1)
        {
            throw fail(forms == 0 ? "give --socket and --uds-path, or --vm, or --config"
                : "--guest-cid/--socket/--uds-path/..., --vm and --config exclude each other");
        }
        final List<Vm> list = new ArrayList<>();
        if (single)
        {
            if (null == socket || null == udsPath)
            {
                throw fail("--socket and --uds-path are both required");
            }
            list.add(vm("", null == guestCid ? VsockDevice.DEFAULT_GUEST_CID : guestCid, socket, udsPath,
                null == txBufferSize ? VsockDevice.DEFAULT_TX_BUFFER_SIZE : txBufferSize,
                null == queueSize ? VsockDevice.DEFAULT_QUEUE_SIZE : queueSize, null == groups ? "default" : groups));
        }
        else if (!vms.isEmpty())
        {
            for (final String spec : vms)
            {
                final Map<String, Object> keys = new LinkedHashMap<>();
                for (final String pair : spec.split(","))
                {
                    final int eq = pair.indexOf('=');
                    if (eq <= 0)
                    {
                        throw fail("--vm " + spec + ": '" + pair + "' is not key=value");
                    }
                    keys.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
                }
                list.add(vm("--vm " + spec + ": ", keys));
            }
        }
        else
        {
            list.addAll(fromYaml(config));
        }
        final Set<Long> cids = new HashSet<>();
        final Set<Path> paths = new HashSet<>();
        for (final Vm vm : list)
        {
            if (!cids.add(vm.guestCid()))
            {
                throw fail("guest CID " + vm.guestCid() + " is given to more than one VM");
            }
            for (final Path p : List.of(vm.socket(), vm.udsPath()))
            {
                if (!paths.add(p.toAbsolutePath().normalize()))
                {
                    throw fail(p + " is used more than once");
                }
            }
        }
        return list;
    }

    private List<Vm> fromYaml(final Path file)
    {
        final Object doc;
        try
        {
            doc = new Load(LoadSettings.builder().setLabel(file.toString()).build())
                .loadFromString(Files.readString(file));
        }
        catch (final IOException | YamlEngineException e)
        {
            throw fail("--config " + file + ": " + e.getMessage());
        }
        if (!(doc instanceof Map<?, ?> top) || !(top.get("vms") instanceof List<?> entries) || entries.isEmpty())
        {
            throw fail("--config " + file + ": expected a non-empty 'vms:' list");
        }
        final List<Vm> list = new ArrayList<>();
        for (final Object entry : entries)
        {
            if (!(entry instanceof Map<?, ?> map))
            {
                throw fail("--config " + file + ": each entry of 'vms' must be a map, got " + entry);
            }
            final Map<String, Object> keys = new LinkedHashMap<>();
            map.forEach((k, v) -> keys.put(String.valueOf(k), v));
            list.add(vm("--config " + file + ": vm " + (list.size() + 1) + ": ", keys));
        }
        return list;
    }

    private Vm vm(final String where, final Map<String, Object> keys)
    {
        Object cid = null;
        Object sock = null;
        Object uds = null;
        Object tx = null;
        Object queue = null;
        Object group = null;
        for (final Map.Entry<String, Object> e : keys.entrySet())
        {
            switch (e.getKey().replace('-', '_'))
            {
                case "guest_cid" -> cid = e.getValue();
                case "socket" -> sock = e.getValue();
                case "uds_path" -> uds = e.getValue();
                case "tx_buffer_size" -> tx = e.getValue();
                case "queue_size" -> queue = e.getValue();
                case "groups" -> group = e.getValue();
                default -> throw fail(where + "unknown key '" + e.getKey() + "' (guest-cid, socket, uds-path,"
                    + " tx-buffer-size, queue-size, groups)");
            }
        }
        if (null == cid || null == sock || null == uds)
        {
            throw fail(where + "guest-cid, socket and uds-path are required");
        }
        return vm(where, number(where, "guest-cid", cid), Path.of(String.valueOf(sock)), Path.of(String.valueOf(uds)),
            null == tx ? VsockDevice.DEFAULT_TX_BUFFER_SIZE : number(where, "tx-buffer-size", tx),
            null == queue ? VsockDevice.DEFAULT_QUEUE_SIZE : number(where, "queue-size", queue),
            null == group ? "default" : String.valueOf(group));
    }

    private Vm vm(final String where, final long cid, final Path sock, final Path uds, final long tx,
        final long queue, final String groupList)
    {
        if (cid < 3 || cid > 0xFFFF_FFFEL)
        {
            throw fail(where + "guest CID must be 3..4294967294 (0-2 are reserved), got " + cid);
        }
        if (tx < 1 || tx > 0xFFFF_FFFFL || tx > Integer.MAX_VALUE)
        {
            throw fail(where + "tx buffer size must be 1.." + Integer.MAX_VALUE + ", got " + tx);
        }
        if (queue < 1 || queue > 32768 || Long.bitCount(queue) != 1)
        {
            throw fail(where + "queue size must be a power of two in 1..32768, got " + queue);
        }
        final List<String> groupNames = List.of(groupList.split("\\+"));
        if (groupNames.stream().anyMatch(String::isBlank))
        {
            throw fail(where + "groups '" + groupList + "' has an empty name");
        }
        return new Vm(cid, sock, uds, (int)tx, (int)queue, groupNames);
    }

    private long number(final String where, final String key, final Object value)
    {
        try
        {
            return value instanceof Number n ? n.longValue() : Long.parseLong(String.valueOf(value).trim());
        }
        catch (final NumberFormatException e)
        {
            throw fail(where + key + " '" + value + "' is not a number");
        }
    }

    private CommandLine.ParameterException fail(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
