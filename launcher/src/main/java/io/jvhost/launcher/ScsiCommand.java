package io.jvhost.launcher;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.scsi.ScsiDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jvhost scsi}: virtio-scsi with an emulated disk per raw image, flag-compatible with rust-vmm's
 * vhost-device-scsi ({@code -s PATH [-r] [--solid-state] IMAGE...}); the socket is PATH itself, re-listened on after
 * each front-end leaves.
 */
@Command(name = "scsi", mixinStandardHelpOptions = true,
    description = {"virtio-scsi back-end: one target whose LUNs 0..N-1 are the raw images given, flag-compatible with"
        + " vhost-device-scsi.",
        "QEMU: -chardev socket,id=scsi0,path=PATH -device vhost-user-scsi-pci,chardev=scsi0"
            + " (guest RAM must be shared: -object memory-backend-memfd,...,share=on)"})
final class ScsiCommand implements Callable<Integer>
{
    /** Threads moving data between the images and guest memory. */
    static final int DISK_THREADS = 2;

    private static final System.Logger LOG = System.getLogger(ScsiCommand.class.getName());

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = {"-s", "--socket-path"}, paramLabel = "PATH", description = "vhost-user Unix socket to listen on.")
    Path socketPath;

    @Option(names = "--fd", paramLabel = "FD",
        description = "Serve an inherited socket descriptor instead of --socket-path.")
    Integer fd;

    @Option(names = {"-r", "--read-only"},
        description = "Open every image read-only; the guest sees write-protected disks.")
    boolean readOnly;

    @Option(names = "--solid-state",
        description = "Report the disks as non-rotating (solid state) in the Block Device Characteristics page.")
    boolean solidState;

    @Parameters(paramLabel = "IMAGE", arity = "0..*",
        description = "Raw disk images, LUN 0 first (1..256; each at least 512 bytes; a size not a multiple of 512 is"
            + " cut down to whole blocks).")
    List<String> images = List.of();

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message (debug level).")
    boolean verbose;

    @Override
    public Integer call()
    {
        final DaemonOptions daemon = DaemonOptions.of(socketPath, fd, 1, printCapabilities, verbose);
        if (printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "scsi", false, i -> null);
        }
        if (images.isEmpty() || images.size() > ScsiDevice.MAX_LUNS)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "give 1.." + ScsiDevice.MAX_LUNS + " images, got " + images.size());
        }
        if (!readOnly)
        {
            LOG.log(Level.WARNING, "images are writable: the guest's writes change them (use -r to serve them"
                + " read-only)");
        }
        final ScsiDevice device;
        try
        {
            device = ScsiDevice.open("scsi0", images, readOnly, solidState, DISK_THREADS);
        }
        catch (final IOException e)
        {
            System.err.println("jvhost scsi: " + e.getMessage());
            return 1;
        }
        LOG.log(Level.INFO, "scsi0: " + device.describe());
        try
        {
            return DeviceRunner.run(spec, daemon, "scsi", false, i -> device);
        }
        finally
        {
            device.close();
        }
    }
}
