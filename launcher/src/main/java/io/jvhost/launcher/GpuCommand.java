package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.vhostuser.gpu.GpuSocketExtension;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost gpu}: virtio-gpu 2D behind QEMU's {@code vhost-user-gpu-pci} / {@code vhost-user-vga}, with the
 * picture on QEMU's display through the vhost-user-gpu socket. Flags follow rust-vmm's vhost-device-gpu where they
 * apply ({@code -s}, {@code -g}, {@code -c}, {@code --headless}); {@code -c} is the capset there, so the socket count
 * is only {@code --socket-count} here.
 */
@Command(name = "gpu", mixinStandardHelpOptions = true,
    description = {"virtio-gpu 2D back-end; the picture goes to QEMU's display over the vhost-user-gpu socket.",
        "Flags follow vhost-device-gpu where they apply. With --socket-count N the sockets are PATH0..PATH<N-1>.",
        "QEMU: -chardev socket,id=gpu0,path=PATH -device vhost-user-gpu-pci,chardev=gpu0"
            + " (guest RAM must be shared: -object memory-backend-memfd,...,share=on)"})
final class GpuCommand implements Callable<Integer>
{
    /** The GPU modes vhost-device-gpu knows that render in 3D: accepted as names, refused as not supported yet. */
    private static final List<String> MODES_3D = List.of("virglrenderer", "virgl-renderer", "gfxstream");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgt]?)(i?b)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern RESOLUTION = Pattern.compile("(\\d+)[xX](\\d+)");

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = {"-s", "--socket-path"}, paramLabel = "PATH",
        description = "vhost-user Unix socket to listen on, used as is (with --socket-count N: PATH0..PATH<N-1>).")
    private Path socketPath;

    @Option(names = "--fd", paramLabel = "FD",
        description = "Serve an inherited socket descriptor instead of --socket-path: a listening socket is accepted"
            + " on repeatedly, a connected one is served once.")
    private Integer fd;

    @Option(names = "--socket-count", paramLabel = "N", defaultValue = "1",
        description = "Number of guests (sockets), one GPU each. Default: ${DEFAULT-VALUE}.")
    private int socketCount;

    @Option(names = "--print-capabilities",
        description = "Print the back-end's capabilities as JSON (QEMU's vhost-user.json) and exit.")
    private boolean printCapabilities;

    @Option(names = {"-v", "--verbose"}, description = "Log every vhost-user message (debug level).")
    private boolean verbose;

    @Option(names = {"-g", "--gpu-mode"}, paramLabel = "MODE", defaultValue = "2d",
        description = "Rendering: 2d (the only one so far; virglrenderer and gfxstream are not supported yet)."
            + " Default: ${DEFAULT-VALUE}.")
    private String gpuMode;

    @Option(names = {"-c", "--capset"}, paramLabel = "CAPSET", split = ",",
        description = "Comma-separated capsets (virgl, virgl2, gfxstream-vulkan, gfxstream-gles): 3D modes only.")
    private List<String> capsets;

    @Option(names = "--headless",
        description = "Show nothing: QEMU's display socket is kept but unused; the guest sees --resolution.")
    private boolean headless;

    @Option(names = "--max-outputs", paramLabel = "N", defaultValue = "1",
        description = "Scanouts (connectors) offered, 1..16; match QEMU's max_outputs. Default: ${DEFAULT-VALUE}.")
    private int maxOutputs;

    @Option(names = "--max-hostmem", paramLabel = "BYTES", defaultValue = "256M",
        description = "Host memory for the guest's images (QEMU's max_hostmem), with an optional K, M or G suffix"
            + " (powers of 1024). Default: ${DEFAULT-VALUE}.")
    private String maxHostmem;

    @Option(names = "--resolution", paramLabel = "WxH", defaultValue = "1280x800",
        description = "The mode the guest sees when no display answers (headless, or before QEMU's socket), like"
            + " QEMU's xres/yres. Default: ${DEFAULT-VALUE}.")
    private String resolution;

    @Override
    public Integer call()
    {
        final GpuOptions options = gpuOptions();
        final DaemonOptions daemon = daemonOptions();
        // Socket i's connections get extensions for device i; the daemons' threads start after all are made.
        final List<GpuDevice> devices = new ArrayList<>();
        return DeviceRunner.run(spec, daemon, "gpu", false,
            i ->
            {
                final GpuDevice device = new GpuDevice("gpu" + i, options);
                devices.add(device);
                return device;
            },
            i -> () -> new GpuSocketExtension("gpu" + i, devices.get(i), headless));
    }

    /**
     * @return the daemon options these flags give (the shared ones, without DaemonOptions' {@code -c}).
     */
    DaemonOptions daemonOptions()
    {
        final DaemonOptions daemon = new DaemonOptions();
        daemon.socketPath = socketPath;
        daemon.fd = fd;
        daemon.socketCount = socketCount;
        daemon.printCapabilities = printCapabilities;
        daemon.verbose = verbose;
        return daemon;
    }

    /**
     * @return the device options these flags give.
     * @throws CommandLine.ParameterException naming the first bad flag.
     */
    GpuOptions gpuOptions()
    {
        final String mode = gpuMode.trim().toLowerCase(Locale.ROOT);
        if (MODES_3D.contains(mode))
        {
            throw usage("--gpu-mode " + gpuMode + " is not supported yet: jvhost gpu renders 2D only (--gpu-mode 2d)");
        }
        if (!"2d".equals(mode))
        {
            throw usage("unknown --gpu-mode '" + gpuMode + "': expected 2d (virglrenderer and gfxstream are not"
                + " supported yet)");
        }
        if (null != capsets && !capsets.isEmpty())
        {
            throw usage("--capset " + String.join(",", capsets) + " needs a 3D --gpu-mode (virglrenderer or"
                + " gfxstream); --gpu-mode 2d has no capsets");
        }
        if (maxOutputs < 1 || maxOutputs > 16)
        {
            throw usage("--max-outputs must be 1..16, got " + maxOutputs);
        }
        final long hostMem = parseSize(maxHostmem);
        final int[] size = parseResolution(resolution);
        try
        {
            return GpuOptions.builder().maxOutputs(maxOutputs).maxHostMem(hostMem).defaultMode(size[0], size[1])
                .build();
        }
        catch (final IllegalArgumentException e)
        {
            throw usage(e.getMessage());
        }
    }

    private CommandLine.ParameterException usage(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /**
     * @return bytes for {@code 256M}, {@code 1G}, {@code 65536}, {@code 512KiB}...
     */
    private long parseSize(final String text)
    {
        final Matcher m = SIZE.matcher(text.trim());
        if (!m.matches())
        {
            throw usage("--max-hostmem '" + text + "' is not a size: expected BYTES with an optional K, M or G suffix");
        }
        final int shift = switch (m.group(2).toLowerCase(Locale.ROOT))
        {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        final long value;
        try
        {
            value = Long.parseLong(m.group(1));
        }
        catch (final NumberFormatException e)
        {
            throw usage("--max-hostmem '" + text + "' is too large");
        }
        if (value <= 0 || value > Long.MAX_VALUE >> shift)
        {
            throw usage("--max-hostmem must be positive and fit in 63 bits, got '" + text + "'");
        }
        return value << shift;
    }

    private int[] parseResolution(final String text)
    {
        final Matcher m = RESOLUTION.matcher(text.trim());
        final int max = GpuOptions.MAX_DEFAULT_DIMENSION;
        if (m.matches())
        {
            try
            {
                final int w = Integer.parseInt(m.group(1));
                final int h = Integer.parseInt(m.group(2));
                if (w >= 1 && w <= max && h >= 1 && h <= max)
                {
                    return new int[] {w, h};
                }
            }
            catch (final NumberFormatException e)
            {
                // Too many digits: reported below.
            }
        }
        throw usage("--resolution must be WIDTHxHEIGHT with each side 1.." + max + ", got '" + text + "'");
    }
}
