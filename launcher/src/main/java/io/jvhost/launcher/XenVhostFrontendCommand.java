package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import io.jvhost.xen.XenVhostFrontend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost xen-vhost-frontend}: the Xen device model for one virtio-mmio device of a domU (run in dom0).
 */
@Command(name = "xen-vhost-frontend", mixinStandardHelpOptions = true,
    description = {"Xen device model in dom0 (Arm): serves a domU's virtio-mmio device through an IOREQ server and "
        + "forwards it to a vhost-user back-end that maps the domU's RAM as a Xen FOREIGN region.",
        "Needs a hypervisor built with CONFIG_IOREQ_SERVER, /dev/xen/privcmd and /dev/xen/evtchn; the domU's device "
            + "tree node comes from libxl (base and irq as in xenstore's backend/.../base and irq)."})
final class XenVhostFrontendCommand implements Callable<Integer>
{
    private static final Map<String, Integer> DEVICES = Map.of("net", 1, "block", 2, "console", 3, "rng", 4,
        "scsi", 8, "input", 18, "vsock", 19, "i2c", 34, "gpio", 41);

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--domid", required = true, description = "The domU's domain id.")
    private int domid;

    @Option(names = {"-s", "--socket-path"}, required = true, paramLabel = "PATH",
        description = "The back-end's vhost-user socket (it must offer XEN_MMAP).")
    private Path socket;

    @Option(names = "--device", defaultValue = "rng", paramLabel = "TYPE|ID",
        description = "The virtio device type the guest sees: rng, net, block, console, scsi, input, vsock, i2c, "
            + "gpio or a number. Default: ${DEFAULT-VALUE}.")
    private String device;

    @Option(names = "--queues", defaultValue = "1", description = "Virtqueues of the device. Default: ${DEFAULT-VALUE}.")
    private int queues;

    @Option(names = "--base", defaultValue = "0x2000000", paramLabel = "ADDR",
        description = "Guest physical address of the virtio-mmio window. Default: ${DEFAULT-VALUE}.")
    private String base;

    @Option(names = "--irq", defaultValue = "33", description = "The domU's SPI (GIC interrupt id). "
        + "Default: ${DEFAULT-VALUE}.")
    private int irq;

    @Option(names = "--memory", required = true, paramLabel = "MIB",
        description = "The domU's RAM in MiB (its memory= setting), mapped by the back-end from --ram-base.")
    private long memoryMib;

    @Option(names = "--ram-base", defaultValue = "0x40000000", paramLabel = "ADDR",
        description = "Guest physical address of the domU's RAM. Default: ${DEFAULT-VALUE} (Arm's GUEST_RAM0_BASE).")
    private String ramBase;

    @Override
    public Integer call() throws Exception
    {
        final Integer known = DEVICES.get(device.toLowerCase(Locale.ROOT));
        final int id;
        try
        {
            id = null != known ? known : Integer.decode(device);
        }
        catch (final NumberFormatException e)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device: unknown type '" + device + "'");
        }
        if (id <= 0 || id > 0xFFFF || queues < 1 || queues > 64 || memoryMib < 1 || memoryMib > (1L << 20)
            || irq < 32 || irq > 1019)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "out of range: --device " + id
                + " (1..65535), --queues " + queues + " (1..64), --memory " + memoryMib + " MiB, --irq " + irq
                + " (an SPI, 32..1019)");
        }
        return XenVhostFrontend.run(new XenVhostFrontend.Options(domid, Long.decode(base), irq, id, queues,
            Long.decode(ramBase), memoryMib << 20, socket));
    }
}
