package io.jvhost.launcher;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import io.jvhost.device.can.CanDevice;
import io.jvhost.device.can.CanPort;
import io.jvhost.device.can.SocketCanPort;
import io.jvhost.device.can.VirtualCanBus;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost can}: virtio-can, flag-compatible with rust-vmm's vhost-device-can, plus in-process virtual buses that
 * need no host CAN interface.
 */
@Command(name = "can", mixinStandardHelpOptions = true,
    description = {"virtio-can back-end: one CAN controller per socket, on a host SocketCAN interface or on a CAN bus"
        + " inside this process that the sockets share. Flag-compatible with vhost-device-can; sockets are"
        + " PATH0..PATH<N-1>.",
        "QEMU 11.1: -chardev socket,id=can0,path=PATH0 -device"
            + " vhost-user-test-device-pci,chardev=can0,virtio-id=36,num_vqs=3,config_size=2"})
final class CanCommand implements Callable<Integer>
{
    /** The prefix of an in-process bus (':' cannot occur in a Linux interface name). */
    static final String BUS_PREFIX = "bus:";

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-d", "--can-devices"}, paramLabel = "\"DEV ...\"",
        description = {"One CAN bus per socket, separated by white space (as many as --socket-count): a host SocketCAN"
            + " interface (can0, vcan0; configured and up already), or bus:NAME, a bus inside this process shared by"
            + " every socket that names it. A frame one guest sends reaches every other guest on its bus, never"
            + " itself (the guest's driver echoes its own frames).",
            "Default: every socket on one in-process bus (bus:0).",
            "Example: -c 3 -d \"bus:a bus:a can0\""})
    private String canDevices;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "can", true, i -> null);
        }
        final List<String> devices = devices();
        final Map<String, VirtualCanBus> buses = new HashMap<>();
        final List<CanPort> ports = new ArrayList<>();
        try
        {
            for (final String d : devices)
            {
                ports.add(d.startsWith(BUS_PREFIX)
                    ? buses.computeIfAbsent(d.substring(BUS_PREFIX.length()), VirtualCanBus::new).join()
                    : SocketCanPort.open(d));
            }
            return DeviceRunner.run(spec, daemon, "can", true, i -> new CanDevice("can" + i, ports.get(i)));
        }
        catch (final IOException e)
        {
            System.err.println("jvhost can: " + e.getMessage());
            return 1;
        }
        finally
        {
            ports.forEach(CanPort::close);
        }
    }

    /**
     * @return the checked device list, one per socket.
     */
    private List<String> devices()
    {
        if (daemon.socketCount < 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--socket-count must be at least 1, got " + daemon.socketCount);
        }
        final List<String> devices = new ArrayList<>();
        if (null == canDevices)
        {
            for (int i = 0; i < daemon.socketCount; i++)
            {
                devices.add(BUS_PREFIX + "0");
            }
        }
        else
        {
            for (final String d : canDevices.strip().split("\\s+"))
            {
                if (!d.isEmpty())
                {
                    devices.add(d);
                }
            }
        }
        if (devices.size() != daemon.socketCount)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--can-devices names " + devices.size()
                + " device(s) but --socket-count is " + daemon.socketCount + "; give one per socket");
        }
        final Set<String> seen = new HashSet<>();
        for (final String d : devices)
        {
            if (BUS_PREFIX.equals(d))
            {
                throw new CommandLine.ParameterException(spec.commandLine(),
                    "--can-devices: 'bus:' needs a name, e.g. bus:0");
            }
            if (!d.startsWith(BUS_PREFIX) && !seen.add(d))
            {
                throw new CommandLine.ParameterException(spec.commandLine(), "--can-devices: " + d
                    + " is listed twice (two guests on one interface: use a bus:NAME, or two interfaces)");
            }
        }
        return devices;
    }
}
