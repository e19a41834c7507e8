package io.jvhost.launcher;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.CompositeDisplay;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.input.InputDevice;
import io.jvhost.device.input.VirtualProfile;
import io.jvhost.display.AllowedHosts;
import io.jvhost.display.DisplayServer;
import io.jvhost.os.ThreadTop;
import io.jvhost.virgl.FenceListener;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglLibrary;
import io.jvhost.virgl.VirglRenderer;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.gpu.GpuSocketExtension;
import io.jvhost.vhostuser.gpu.VhostUserGpuDisplay;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost gpu}: virtio-gpu 2D behind QEMU's {@code vhost-user-gpu-pci} / {@code vhost-user-vga}, with the
 * picture on QEMU's display through the vhost-user-gpu socket. Flags follow rust-vmm's vhost-device-gpu where they
 * apply ({@code -s}, {@code -g}, {@code -c}, {@code --headless}); {@code -c} is the capset there, so the socket count
 * is only {@code --socket-count} here.
 * <p>
 * jvhost's own display ({@code --display web=ADDR}, {@code --display vnc=ADDR}) shows the same scanouts to browsers
 * and VNC viewers beside QEMU's display: the device drives a {@link CompositeDisplay} holding QEMU's display (while
 * its socket is there; its xres/yres answer the guest's display-info requests) and a {@link DisplayServer}. With
 * {@code --input-socket PATH} the viewers' keyboard and pointer reach the guest through a virtio-input device (keyboard
 * and tablet) served on a second vhost-user socket by the same process.
 */
@Command(name = "gpu", mixinStandardHelpOptions = true,
    description = {"virtio-gpu back-end, 2D or 3D (--gpu-mode virglrenderer); the picture goes to QEMU's display over"
        + " the vhost-user-gpu socket.",
        "Flags follow vhost-device-gpu where they apply. With --socket-count N the sockets are PATH0..PATH<N-1>.",
        "QEMU: -chardev socket,id=gpu0,path=PATH -device vhost-user-gpu-pci,chardev=gpu0"
            + " (guest RAM must be shared: -object memory-backend-memfd,...,share=on)"})
final class GpuCommand implements Callable<Integer>
{
    /** The 3D modes: virglrenderer (with vhost-device-gpu's alias); gfxstream is known and refused. */
    private static final List<String> MODES_VIRGL = List.of("virglrenderer", "virgl-renderer");
    private static final System.Logger LOG = System.getLogger(GpuCommand.class.getName());
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
        description = "Rendering: 2d, or virglrenderer (alias virgl-renderer): 3D with virglrenderer, one GPU per"
            + " process (gfxstream is not supported). Default: ${DEFAULT-VALUE}.")
    private String gpuMode;

    @Option(names = "--virgl", description = "Same as --gpu-mode virglrenderer (QEMU's vhost-user-gpu option).")
    private boolean virgl;

    @Option(names = {"-c", "--capset"}, paramLabel = "CAPSET", split = ",",
        description = "Comma-separated capsets offered in 3D mode: virgl, virgl2 (default: both), venus (starts"
            + " virglrenderer with Venus; a Venus context needs VIRTIO_GPU_F_CONTEXT_INIT, which QEMU 10's"
            + " vhost-user-gpu drops). gfxstream-vulkan and gfxstream-gles are refused.")
    private List<String> capsets;

    @Option(names = "--use-egl", paramLabel = "BOOL", arity = "0..1", fallbackValue = "true", defaultValue = "true",
        description = "3D: virglrenderer renders through EGL. Default: ${DEFAULT-VALUE}.")
    private boolean useEgl;

    @Option(names = "--use-gles", paramLabel = "BOOL", arity = "0..1", fallbackValue = "true",
        description = "3D: true: an OpenGL ES host context; false: desktop GL. Default: desktop GL, and OpenGL ES"
            + " should it not start (rust-vmm's default is true; desktop GL reads frames back at half the CPU).")
    private Boolean useGles;

    @Option(names = "--use-surfaceless", paramLabel = "BOOL", arity = "0..1", fallbackValue = "true",
        defaultValue = "true", description = "3D: EGL without a window system or render node (llvmpipe on a machine"
            + " without a GPU). Default: ${DEFAULT-VALUE}.")
    private boolean useSurfaceless;

    @Option(names = {"--gpu-device", "--render-node"}, paramLabel = "PATH",
        description = "3D: the DRM render node to use (e.g. /dev/dri/renderD128); it must open read-write."
            + " virglrenderer 0.10 picks the render node itself, so this only checks the path.")
    private Path gpuDevice;

    @Option(names = "--headless",
        description = "Show nothing: QEMU's display socket is kept but unused; the guest sees --resolution.")
    private boolean headless;

    @Option(names = "--max-outputs", paramLabel = "N", defaultValue = "1",
        description = "Scanouts (connectors) offered, 1..16; match QEMU's max_outputs. Default: ${DEFAULT-VALUE}.")
    private int maxOutputs;

    @Option(names = "--max-hostmem", paramLabel = "BYTES", defaultValue = "256M",
        description = "Host memory a guest can make its GPU use: its images (QEMU's max_hostmem), the displays'"
            + " copies of its scanouts and their viewers' buffers together; past it the guest gets ERR_OUT_OF_MEMORY."
            + " An optional K, M or G suffix (powers of 1024). Default: ${DEFAULT-VALUE}.")
    private String maxHostmem;

    @Option(names = "--blob",
        description = "Offer VIRTIO_GPU_F_RESOURCE_BLOB (guest-memory blobs, SET_SCANOUT_BLOB). Off by default, as in"
            + " QEMU's virtio-gpu; QEMU 10's vhost-user-gpu does not pass it to the guest anyway.")
    private boolean blob;

    @Option(names = "--resolution", paramLabel = "WxH", defaultValue = "1280x800",
        description = "The mode the guest sees when no display answers (headless, or before QEMU's socket), like"
            + " QEMU's xres/yres. Default: ${DEFAULT-VALUE}.")
    private String resolution;

    @Option(names = "--display", paramLabel = "KIND=ADDR",
        description = {"Also show the scanouts to viewers (repeatable): web=HOST:PORT[,allow-host=NAME]... serves a web"
            + " page with noVNC, vnc=HOST:PORT[,scanout=N] an RFB (VNC) server for scanout N (default 0). HOST defaults"
            + " to 127.0.0.1; anything beyond loopback is logged as a warning. The web console answers only requests"
            + " addressed to its IP, localhost or an allow-host NAME (DNS name or IP; repeatable): others get 421.",
            "E.g. --display web=127.0.0.1:8080 --display vnc=127.0.0.1:5900"})
    private List<String> displays;

    @Option(names = "--display-password", paramLabel = "PASSWORD",
        description = "Require VNC Authentication (first 8 characters count) from VNC and web viewers; the web"
            + " console's scanout list and snapshots want it by HTTP Basic (any user name, the whole password)."
            + " Visible in the process list: prefer --display-password-file.")
    private String displayPassword;

    @Option(names = "--display-password-file", paramLabel = "FILE",
        description = "Read the VNC password from the first line of FILE.")
    private Path displayPasswordFile;

    @Option(names = "--input-socket", paramLabel = "PATH",
        description = "Serve a virtio-input device (keyboard + tablet) fed by the viewers on this vhost-user socket"
            + " (QEMU: -device vhost-user-input-pci).")
    private Path inputSocket;

    @Override
    public Integer call()
    {
        if (printCapabilities)
        {
            printCapabilities();
            return 0;
        }
        final GpuOptions options = gpuOptions();
        if (options.threeD())
        {
            final String failure = probeVirgl(options.virglFlags());
            if (null != failure)
            {
                spec.commandLine().getErr().println("jvhost gpu: " + failure);
                return 1;
            }
        }
        final DaemonOptions daemon = daemonOptions();
        final List<DisplaySpec> specs = displaySpecs(displays, spec.commandLine());
        final String password = displayPassword();
        if (daemon.printCapabilities || specs.isEmpty() && null == inputSocket)
        {
            return runGpu(options, daemon, null, null);
        }
        if (daemon.socketCount != 1)
        {
            throw usage("--display and --input-socket serve one GPU: drop --socket-count " + daemon.socketCount);
        }
        if (null != password && specs.isEmpty())
        {
            throw usage("--display-password needs a --display");
        }
        final InputDevice input = null == inputSocket ? null
            : new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        DisplayServer server = null;
        VhostUserDaemon inputDaemon = null;
        // One GPU: its images, QEMU's display and the viewers all draw on this one budget.
        final MemoryBudget budget = new MemoryBudget("gpu0", options.maxHostMem());
        try
        {
            if (!specs.isEmpty())
            {
                server = startDisplay("gpu0", specs, password, input, budget, options);
            }
            if (null != input)
            {
                inputDaemon = VhostUserDaemon.listen("input0", input, inputSocket);
                final VhostUserDaemon d = inputDaemon;
                Thread.ofPlatform().name("jvhost-input-0").start(ThreadTop.guarded("jvhost-input-0", d::run));
                System.err.println("jvhost gpu: viewers' keyboard and tablet on " + inputSocket
                    + " (QEMU: -chardev socket,id=in0,path=" + inputSocket + " -device vhost-user-input-pci,chardev=in0)");
            }
        }
        catch (final IOException | RuntimeException e)
        {
            if (null != server)
            {
                server.close();
            }
            if (null != inputDaemon)
            {
                inputDaemon.close();
            }
            System.err.println("jvhost gpu: " + e.getMessage());
            return 1;
        }
        try
        {
            return runGpu(options, daemon, server, budget);
        }
        finally
        {
            if (null != inputDaemon)
            {
                inputDaemon.shutdown();
                inputDaemon.close();
            }
            if (null != server)
            {
                server.close();
            }
        }
    }

    /**
     * Runs the GPU daemons; with {@code server}, each device drives a composite of QEMU's display and the server.
     *
     * @param budget the one device's memory budget, shared with {@code server}; null: each device has its own.
     */
    private int runGpu(final GpuOptions options, final DaemonOptions daemon, final DisplayServer server,
        final MemoryBudget budget)
    {
        // Socket i's connections get extensions for device i; the daemons' threads start after all are made.
        final List<GpuDevice> devices = new ArrayList<>();
        final List<CompositeDisplay> composites = new ArrayList<>();
        return DeviceRunner.run(spec, daemon, "gpu", false,
            i ->
            {
                final GpuDevice device = null == budget ? new GpuDevice("gpu" + i, options)
                    : new GpuDevice("gpu" + i, options, budget);
                devices.add(device);
                if (null != server)
                {
                    final CompositeDisplay composite = new CompositeDisplay("gpu" + i);
                    composite.add(server);
                    composite.attachTo(device);
                    composites.add(composite);
                }
                return device;
            },
            i -> () -> null == server ? new GpuSocketExtension("gpu" + i, devices.get(i), headless)
                : new GpuSocketExtension("gpu" + i, GpuSocketExtension.DisplayHost.of(composites.get(i)),
                devices.get(i).memoryBudget(), headless, VhostUserGpuDisplay.DEFAULT_REPLY_TIMEOUT));
    }

    /**
     * Starts jvhost's display with {@code specs}; it logs where viewers connect.
     *
     * @param budget the GPU's memory budget, which the framebuffers and viewers are reserved from.
     * @param gpu    the GPU's options: its default mode is what the display reports for outputs no viewer resized.
     */
    static DisplayServer startDisplay(final String name, final List<DisplaySpec> specs, final String password,
        final InputDevice input, final MemoryBudget budget, final GpuOptions gpu) throws IOException
    {
        final DisplayServer.Builder builder = DisplayServer.builder().name(name).password(password).input(input)
            .memoryBudget(budget).defaultMode(gpu.defaultWidth(), gpu.defaultHeight());
        for (final DisplaySpec d : specs)
        {
            if (d.web())
            {
                builder.web(d.address(), d.allowedHosts());
            }
            else
            {
                builder.vnc(d.address(), d.scanout());
            }
        }
        final DisplayServer server = builder.start();
        return server;
    }

    /**
     * One {@code --display} value.
     *
     * @param web          true for the web console, false for VNC.
     * @param scanout      for VNC: the scanout served.
     * @param allowedHosts for the web console: the Host names it answers to besides its address and localhost.
     */
    record DisplaySpec(boolean web, InetSocketAddress address, int scanout, List<String> allowedHosts)
    {
        DisplaySpec(final boolean web, final InetSocketAddress address, final int scanout)
        {
            this(web, address, scanout, List.of());
        }
    }

    private static final Pattern DISPLAY = Pattern.compile(
        "(web|vnc)=(?:(\\[[0-9A-Fa-f:.]+\\]|[^:,\\[\\]]+):)?(\\d{1,5})((?:,[^,=]*=[^,]*)*)");

    /**
     * @return the parsed {@code --display} values.
     * @throws CommandLine.ParameterException naming the bad value.
     */
    static List<DisplaySpec> displaySpecs(final List<String> values, final CommandLine cli)
    {
        final List<DisplaySpec> result = new ArrayList<>();
        if (null == values)
        {
            return result;
        }
        for (final String value : values)
        {
            final Matcher m = DISPLAY.matcher(value.trim());
            if (!m.matches())
            {
                throw new CommandLine.ParameterException(cli, "--display '" + value + "' is not"
                    + " web=HOST:PORT[,allow-host=NAME]... or vnc=HOST:PORT[,scanout=N] (e.g. web=127.0.0.1:8080,"
                    + " vnc=127.0.0.1:5900,scanout=1)");
            }
            final boolean web = "web".equals(m.group(1));
            final String host = null == m.group(2) ? "127.0.0.1" : m.group(2).replaceAll("^\\[|\\]$", "");
            final int port = Integer.parseInt(m.group(3));
            if (port > 65535)
            {
                throw new CommandLine.ParameterException(cli, "--display '" + value + "': port " + port
                    + " is not 0..65535");
            }
            int scanout = -1;
            final List<String> allowedHosts = new ArrayList<>();
            for (final String option : m.group(4).isEmpty() ? new String[0] : m.group(4).substring(1).split(","))
            {
                final String key = option.substring(0, option.indexOf('='));
                final String setting = option.substring(option.indexOf('=') + 1);
                if ("scanout".equals(key) && !web && scanout < 0 && setting.matches("\\d{1,2}"))
                {
                    scanout = Integer.parseInt(setting);
                }
                else if ("allow-host".equals(key) && web)
                {
                    try
                    {
                        AllowedHosts.normalize(setting);
                    }
                    catch (final IllegalArgumentException e)
                    {
                        throw new CommandLine.ParameterException(cli, "--display '" + value + "': allow-host "
                            + e.getMessage());
                    }
                    allowedHosts.add(setting);
                }
                else
                {
                    throw new CommandLine.ParameterException(cli, "--display '" + value + "': " + option + " is not"
                        + (web ? " allow-host=NAME (the web console shows every scanout: pick one in the page)"
                        : " scanout=N, given once (allow-host is for the web console's Host header)"));
                }
            }
            scanout = Math.max(0, scanout);
            if (scanout >= DisplayServer.MAX_SCANOUTS)
            {
                throw new CommandLine.ParameterException(cli, "--display '" + value + "': scanout must be 0.."
                    + (DisplayServer.MAX_SCANOUTS - 1) + ", got " + scanout);
            }
            final InetAddress address;
            try
            {
                address = InetAddress.getByName(host);
            }
            catch (final UnknownHostException e)
            {
                throw new CommandLine.ParameterException(cli, "--display '" + value + "': unknown host '" + host
                    + "'");
            }
            result.add(new DisplaySpec(web, new InetSocketAddress(address, port), scanout, List.copyOf(allowedHosts)));
        }
        return result;
    }

    private String displayPassword()
    {
        if (null != displayPassword && null != displayPasswordFile)
        {
            throw usage("give --display-password or --display-password-file, not both");
        }
        if (null != displayPasswordFile)
        {
            try
            {
                final String line = Files.readAllLines(displayPasswordFile, StandardCharsets.UTF_8).stream()
                    .findFirst().orElse("");
                if (line.isEmpty())
                {
                    throw usage("--display-password-file " + displayPasswordFile + " has an empty first line");
                }
                return line;
            }
            catch (final IOException e)
            {
                throw usage("cannot read --display-password-file " + displayPasswordFile + ": " + e.getMessage());
            }
        }
        if (null != displayPassword && displayPassword.isEmpty())
        {
            throw usage("--display-password must not be empty");
        }
        return displayPassword;
    }

    /**
     * @return the daemon options these flags give (the shared ones, without DaemonOptions' {@code -c}).
     */
    DaemonOptions daemonOptions()
    {
        return DaemonOptions.of(socketPath, fd, socketCount, printCapabilities, verbose);
    }

    /**
     * The device options {@code jvhost gpu ARGS} serves with: its defaults wherever {@code args} say nothing (the
     * demo's GPU is {@code jvhost gpu -g virglrenderer} this way, without a second copy of the 3D defaults).
     *
     * @throws CommandLine.ParameterException naming the first bad flag.
     */
    static GpuOptions gpuOptions(final String... args)
    {
        final GpuCommand command = new GpuCommand();
        new CommandLine(command).parseArgs(args);
        return command.gpuOptions();
    }

    /**
     * @return the device options these flags give.
     * @throws CommandLine.ParameterException naming the first bad flag.
     */
    GpuOptions gpuOptions()
    {
        final String mode = gpuMode.trim().toLowerCase(Locale.ROOT);
        final boolean threeD = virgl || MODES_VIRGL.contains(mode);
        if ("gfxstream".equals(mode))
        {
            throw usage("--gpu-mode gfxstream is not supported: jvhost gpu renders 2d or virglrenderer");
        }
        if (!threeD && !"2d".equals(mode))
        {
            throw usage("unknown --gpu-mode '" + gpuMode + "': expected 2d or virglrenderer (alias virgl-renderer)");
        }
        if (virgl && "2d".equals(mode) && spec.commandLine().getParseResult().hasMatchedOption("--gpu-mode"))
        {
            throw usage("--virgl contradicts --gpu-mode 2d");
        }
        int virglFlags = 0;
        int capsetMask = 0;
        if (threeD)
        {
            capsetMask = capsetMask(capsets);
            virglFlags = VirglFlags.THREAD_SYNC | (useEgl ? VirglFlags.USE_EGL : 0)
                | (useSurfaceless ? VirglFlags.USE_SURFACELESS : 0)
                | (null == useGles ? GpuOptions.VIRGL_GLES_FALLBACK : useGles ? VirglFlags.USE_GLES : 0)
                | (0 != (capsetMask & GpuOptions.CAPSET_VENUS_BIT) ? VirglFlags.VENUS : 0);
            if (!useEgl && useSurfaceless)
            {
                throw usage("--use-surfaceless needs EGL: drop --use-egl false, or add --use-surfaceless false");
            }
            if (socketCount != 1)
            {
                throw usage("--gpu-mode virglrenderer serves one GPU per process (virglrenderer keeps its state in"
                    + " process globals): drop --socket-count " + socketCount + ", run one process per guest");
            }
            if (blob)
            {
                throw usage("--blob is 2D only: 3D blob resources need host-visible memory, which QEMU 10's"
                    + " vhost-user-gpu does not have");
            }
            if (null != gpuDevice)
            {
                checkGpuDevice(gpuDevice);
            }
        }
        else
        {
            if (null != capsets && !capsets.isEmpty())
            {
                throw usage("--capset " + String.join(",", capsets) + " needs --gpu-mode virglrenderer; --gpu-mode 2d"
                    + " has no capsets");
            }
            for (final String option : List.of("--use-egl", "--use-gles", "--use-surfaceless", "--gpu-device"))
            {
                if (null != spec.commandLine().getParseResult()
                    && spec.commandLine().getParseResult().hasMatchedOption(option))
                {
                    throw usage(option + " needs --gpu-mode virglrenderer");
                }
            }
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
                .resourceBlob(blob).virgl(virglFlags, capsetMask).build();
        }
        catch (final IllegalArgumentException e)
        {
            throw usage(e.getMessage());
        }
    }

    /**
     * QEMU's vhost-user.json for a GPU: --virgl is listed when virglrenderer is there to serve it, --render-node
     * when there is also a DRM render node. libvirt picks a render node for a back-end that lists render-node and
     * refuses to start the domain when the host has none (llvmpipe needs none).
     */
    private static void printCapabilities()
    {
        final List<String> features = new ArrayList<>();
        if (VirglLibrary.available())
        {
            if (hasRenderNode(Path.of("/dev/dri")))
            {
                features.add("\"render-node\"");
            }
            features.add("\"virgl\"");
        }
        final String list = features.isEmpty() ? ""
            : ",\n  \"features\": [\n    " + String.join(",\n    ", features) + "\n  ]";
        System.out.println("{\n  \"type\": \"gpu\"" + list + "\n}");
    }

    /**
     * @return true when {@code dri} holds a render node ({@code renderD128}, ...).
     */
    static boolean hasRenderNode(final Path dri)
    {
        try (var entries = java.nio.file.Files.list(dri))
        {
            return entries.anyMatch(p -> p.getFileName().toString().startsWith("renderD"));
        }
        catch (final java.io.IOException e)
        {
            return false;
        }
    }

    /**
     * Starts and cleans up virglrenderer once on a thread of its own, so a machine that cannot render fails here
     * with the reason instead of when a guest arrives; the control worker starts it again for each connection.
     *
     * @return null, or why virglrenderer cannot start.
     */
    static String probeVirgl(final int flags)
    {
        final String[] failure = new String[1];
        final Thread probe = Thread.ofPlatform().name("virgl-probe").unstarted(() ->
        {
            try
            {
                VirglRenderer.init(flags, (FenceListener)fence -> { }).close();
            }
            catch (final Exception | LinkageError e)
            {
                failure[0] = e.getMessage();
            }
        });
        probe.start();
        try
        {
            probe.join();
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return "interrupted while starting virglrenderer";
        }
        return null == failure[0] ? null : "--gpu-mode virglrenderer: virglrenderer cannot start with "
            + VirglFlags.describe(flags) + ": " + failure[0];
    }

    /**
     * @return the capset id mask of {@code names} (null or empty: virgl and virgl2).
     */
    private int capsetMask(final List<String> names)
    {
        if (null == names || names.isEmpty())
        {
            return 1 << VirglRenderer.CAPSET_VIRGL | 1 << VirglRenderer.CAPSET_VIRGL2;
        }
        int mask = 0;
        for (final String raw : names)
        {
            final String name = raw.trim().toLowerCase(Locale.ROOT);
            mask |= switch (name)
            {
                case "virgl" -> 1 << VirglRenderer.CAPSET_VIRGL;
                case "virgl2" -> 1 << VirglRenderer.CAPSET_VIRGL2;
                case "venus" -> venus();
                case "gfxstream-vulkan", "gfxstream-gles" -> throw usage("capset " + name + " is not supported by"
                    + " gpu mode virglrenderer");
                default -> throw usage("unknown capset '" + raw + "': expected virgl, virgl2, venus");
            };
        }
        return mask;
    }

    /**
     * Venus: offered (capset 4, virglrenderer started with VENUS) when the library can create contexts of a capset;
     * said plainly that QEMU 10 cannot front it.
     *
     * @return the capset bit.
     */
    private int venus()
    {
        if (!VirglLibrary.available() || !VirglLibrary.hasContextInit())
        {
            throw usage("capset venus needs VIRTIO_GPU_F_CONTEXT_INIT, and " + VirglLibrary.NAME + " has no"
                + " virgl_renderer_context_create_fence/context_create_with_flags"
                + (VirglLibrary.available() ? "" : " (it is not loaded)"));
        }
        LOG.log(System.Logger.Level.WARNING, "capset venus: a Venus context needs VIRTIO_GPU_F_CONTEXT_INIT, and real"
            + " Vulkan use needs blob resources and host-visible memory; QEMU 10's vhost-user-gpu passes none of"
            + " these to the guest, so only a front-end that negotiates CONTEXT_INIT (jvhost's in-process one) can"
            + " create a Venus context; through QEMU 10 the guest gets virgl (GL) only");
        return GpuOptions.CAPSET_VENUS_BIT;
    }

    /**
     * The render node must exist and open read-write, as vhost-device-gpu checks.
     */
    private void checkGpuDevice(final Path path)
    {
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(path,
            java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE))
        {
            LOG.log(System.Logger.Level.INFO, "--gpu-device " + path + " opens; virglrenderer 0.10 chooses its render"
                + " node itself (no surfaceless: the first one it finds)");
        }
        catch (final java.io.IOException | RuntimeException e)
        {
            throw usage("--gpu-device " + path + " cannot be opened read-write: " + e);
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
