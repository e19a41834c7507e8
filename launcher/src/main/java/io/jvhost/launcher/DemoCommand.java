package io.jvhost.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.gpu.CompositeDisplay;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.input.InputDevice;
import io.jvhost.device.input.VirtualProfile;
import io.jvhost.device.rng.EntropySource;
import io.jvhost.device.rng.RngDevice;
import io.jvhost.display.DisplayServer;
import io.jvhost.os.ThreadTop;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.gpu.GpuSocketExtension;
import io.jvhost.vhostuser.gpu.VhostUserGpuDisplay;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost demo}: boots a small Linux guest in QEMU whose devices are served by jvhost back-ends running in
 * this process: rng, a GPU whose screen is shown in the browser (jvhost's web console with noVNC), and a
 * keyboard+tablet fed by that browser. The guest's console is on this terminal (serial) and on the GPU (fbcon, tty1,
 * with a shell of its own). Run it through {@code ./jvhost demo}, which installs QEMU and the guest kernel first.
 * <p>
 * With {@code --3d} the GPU is {@code jvhost gpu -g virglrenderer} (virglrenderer on the host's EGL, llvmpipe without
 * a GPU) and the guest is the 3D guest (Debian 12's Mesa from {@code scripts/setup.sh guest3d}, {@value
 * Guest3dTree#MEMORY}): it runs kmscube on the GPU, in a loop, and the browser shows it live, each frame read back
 * from virglrenderer on RESOURCE_FLUSH (QEMU runs with {@code -display none}).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Boot a small Linux guest whose devices are served by jvhost, console on this terminal.",
        "The guest's hardware RNG is jvhost rng; its screen (jvhost gpu) is in your browser at the printed URL,",
        "where typing goes to a shell on the guest's tty1 (jvhost's virtio-input keyboard).",
        "With --3d the GPU renders 3D (virglrenderer) and the guest runs kmscube on it (Debian 12's Mesa).",
        "Quit with 'poweroff -f' in the guest, or Ctrl-A X.",
        "jvhost's own log goes to a file the demo names (--log), or to this terminal with -v."})
final class DemoCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /** Guest RAM of the 2D guest. */
    private static final String MEMORY_2D = "512M";

    /** The 3D guest's modules: no virtio_input (kmscube reads no input, and the browser's keys would go nowhere). */
    private static final String[] MODULES_3D = {"virtio_pci", "virtio_rng", "virtio_gpu"};

    /**
     * The 3D guest's /init. It names no URL (the 2D guest's does), so the 200 MB image is built once and then comes
     * from build-initramfs.sh's cache.
     */
    private static final String INIT_3D = """
        #!/bin/sh
        mount -t proc proc /proc
        mount -t sysfs sys /sys
        mount -t devtmpfs dev /dev
        /bin/load-modules >/dev/null 2>&1
        export MESA_SHADER_CACHE_DISABLE=true HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
        i=0
        while [ ! -e /dev/dri/card0 ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
        echo
        echo "jvhost 3D demo guest: Debian 12's Mesa renders through virgl, served by jvhost gpu (virglrenderer)."
        echo "Hardware RNG: $(cat /sys/class/misc/hw_random/rng_current) (served by jvhost rng)"
        echo "kmscube runs on /dev/dri/card0 in a loop (its output: /tmp/kmscube.log); the screen is in your browser."
        echo "Try: grep renderer /tmp/kmscube.log     Quit: poweroff -f"
        # kmscube runs until its stdin is readable ("user interrupted!"), so it reads a FIFO opened read-write, which
        # never blocks the open and is readable only once written to (echo > /tmp/kmscube.in restarts it).
        mkfifo /tmp/kmscube.in
        (while true; do kmscube -D /dev/dri/card0 <>/tmp/kmscube.in >/tmp/kmscube.log 2>&1; sleep 1; done) &
        setsid cttyhack /bin/sh
        poweroff -f
        """;

    @Option(names = "--memory", description = "Guest RAM. Default: " + MEMORY_2D + ", " + Guest3dTree.MEMORY
        + " with --3d.")
    private String memory;

    @Option(names = "--3d", description = "A 3D GPU (jvhost gpu -g virglrenderer) and a guest running kmscube on it;"
        + " needs virglrenderer and the 3D guest (./jvhost demo --3d sets both up).")
    private boolean threeD;

    @Option(names = "--web", paramLabel = "HOST:PORT[,allow-host=NAME]...", defaultValue = "127.0.0.1:8080",
        description = "Where the web console listens, and the names it answers to besides its IP and localhost"
            + " (e.g. 0.0.0.0:8080,allow-host=myhost.lan). Default: ${DEFAULT-VALUE}.")
    private String web;

    @Option(names = "--vnc", paramLabel = "HOST:PORT",
        description = "Also serve the screen to VNC viewers here (e.g. 127.0.0.1:5900).")
    private String vnc;

    @Option(names = "--resolution", paramLabel = "WxH", defaultValue = "1024x768",
        description = "The guest's screen (QEMU's xres/yres). Default: ${DEFAULT-VALUE}.")
    private String resolution;

    @Option(names = {"-v", "--verbose"},
        description = "jvhost's log on this terminal instead of in the --log file.")
    private boolean verbose;

    @Option(names = "--log", paramLabel = "FILE",
        description = "Where jvhost's log goes (warnings and errors also to this terminal). Default: a new"
            + " jvhost-demo-*.log in the temporary directory (" + "${sys:java.io.tmpdir}" + "), kept after the demo.")
    private Path log;

    @Override
    public Integer call() throws Exception
    {
        final String logNote;
        if (verbose)
        {
            logNote = "jvhost's log is on this terminal (-v)";
        }
        else
        {
            final Path file = null != log ? log : Files.createTempFile("jvhost-demo-", ".log");
            Logging.toFile(file);
            logNote = "jvhost's log: " + file + " (-v shows it here)";
        }
        final Path home = jvhostHome();
        final Path guest = Path.of(System.getenv().getOrDefault("JVHOST_GUEST_DIR",
            System.getProperty("user.home") + "/.cache/jvhost/guest"));
        final String qemu = System.getenv().getOrDefault("JVHOST_QEMU", "qemu-system-x86_64");
        if (!Files.isRegularFile(guest.resolve("vmlinuz")))
        {
            System.err.println("jvhost demo: no guest kernel in " + guest + "; run ./jvhost demo (it sets up the"
                + " machine) or scripts/setup.sh guest");
            return 1;
        }
        final Guest3dTree tree = Guest3dTree.detect();
        if (threeD && null != tree.problem())
        {
            System.err.println("jvhost demo: " + tree.problem() + "; ./jvhost demo --3d sets it up");
            return 1;
        }
        final int[] size = parseResolution();
        final GpuOptions gpuOptions = threeD
            ? GpuCommand.gpuOptions("-g", "virglrenderer", "--resolution", size[0] + "x" + size[1])
            : GpuOptions.builder().defaultMode(size[0], size[1]).build();
        if (threeD)
        {
            final String failure = GpuCommand.probeVirgl(gpuOptions.virglFlags());
            if (null != failure)
            {
                System.err.println("jvhost demo: " + failure);
                return 1;
            }
        }
        final String ram = null != memory ? memory : threeD ? Guest3dTree.MEMORY : MEMORY_2D;
        final List<String> displays = new ArrayList<>(List.of("web=" + web));
        if (null != vnc)
        {
            displays.add("vnc=" + vnc);
        }
        final List<GpuCommand.DisplaySpec> specs = GpuCommand.displaySpecs(displays, spec.commandLine());
        final Path work = Files.createTempDirectory("jvhost-demo-");
        final Path rngSocket = work.resolve("rng.sock");
        final Path gpuSocket = work.resolve("gpu.sock");
        final Path inputSocket = work.resolve("input.sock");
        final InputDevice input = threeD ? null : new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        final GpuDevice gpu = new GpuDevice("gpu0", gpuOptions);
        final List<VhostUserDaemon> daemons = new ArrayList<>();
        final DisplayServer display;
        try
        {
            display = GpuCommand.startDisplay("gpu0", specs, null, input, gpu.memoryBudget(), gpu.options());
        }
        catch (final IOException e)
        {
            System.err.println("jvhost demo: " + e.getMessage() + " (choose another port with --web HOST:PORT)");
            deleteTree(work);
            return 1;
        }
        final CompositeDisplay composite = new CompositeDisplay("gpu0");
        composite.add(display);
        composite.attachTo(gpu);
        final String url = display.webUrls().getFirst();
        try (EntropySource source = EntropySource.open("/dev/urandom");
             display)
        {
            final InitramfsScript script = new InitramfsScript(home, guest);
            final Path initrd = threeD ? buildInitramfs3d(script, tree, work) : buildInitramfs(script, work, url);
            daemons.add(VhostUserDaemon.listen("rng0",
                new RngDevice("rng0", source, RngDevice.MAX_PERIOD_MS, Long.MAX_VALUE), rngSocket));
            daemons.add(VhostUserDaemon.listen("gpu0", gpu, () -> new GpuSocketExtension("gpu0",
                GpuSocketExtension.DisplayHost.of(composite), gpu.memoryBudget(), false,
                VhostUserGpuDisplay.DEFAULT_REPLY_TIMEOUT), gpuSocket));
            if (!threeD)
            {
                daemons.add(VhostUserDaemon.listen("input0", input, inputSocket));
            }
            final List<Thread> servers = new ArrayList<>();
            for (final VhostUserDaemon d : daemons)
            {
                final String thread = "jvhost-" + servers.size();
                servers.add(Thread.ofPlatform().name(thread).start(ThreadTop.guarded(thread, d::run)));
            }
            // 3D: the kernel's console stays off the screen (kmscube's), and its cursor does not blink there.
            // no_timer_check: on a loaded host TCG can be too slow for the kernel's IO-APIC timer check, which then
            // panics ("IO-APIC + timer doesn't work!") before the guest is up.
            final String append = (threeD ? "console=ttyS0 vt.global_cursor_default=0"
                : "console=tty1 console=ttyS0") + " quiet panic=-1 no_timer_check";
            final List<String> command = new ArrayList<>(List.of(qemu, "-accel", "tcg", "-m", ram,
                "-object", "memory-backend-memfd,id=mem,size=" + ram + ",share=on",
                "-machine", "pc,memory-backend=mem", "-nodefaults", "-no-reboot", "-display", "none",
                "-serial", "mon:stdio", "-kernel", guest.resolve("vmlinuz").toString(),
                "-initrd", initrd.toString(), "-append", append,
                "-chardev", "socket,id=rng0,path=" + rngSocket, "-device", "vhost-user-rng-pci,chardev=rng0",
                "-chardev", "socket,id=gpu0,path=" + gpuSocket,
                "-device", "vhost-user-gpu-pci,chardev=gpu0,xres=" + size[0] + ",yres=" + size[1]));
            if (threeD)
            {
                System.err.println("jvhost demo: booting the 3D guest (TCG: kmscube's first frame takes 20-40 s);"
                    + " jvhost serves rng and gpu (virglrenderer) from this process");
                System.err.println("jvhost demo: the guest's screen is at " + url + " (open it in a browser:"
                    + " kmscube, rendered by virglrenderer, read back on every frame)");
            }
            else
            {
                command.addAll(List.of("-chardev", "socket,id=input0,path=" + inputSocket,
                    "-device", "vhost-user-input-pci,chardev=input0"));
                System.err.println("jvhost demo: booting the guest (TCG, a few seconds); jvhost serves rng, gpu and"
                    + " input from this process");
                System.err.println("jvhost demo: the guest's screen is at " + url + " (open it in a browser: type"
                    + " there into the shell on tty1)");
            }
            System.err.println("jvhost demo: quit with 'poweroff -f' in the guest's shell here, or Ctrl-A X; "
                + logNote);
            final int exit = new ProcessBuilder(command).inheritIO().start().waitFor();
            daemons.forEach(VhostUserDaemon::shutdown);
            for (final Thread t : servers)
            {
                t.join(5000);
            }
            return exit;
        }
        finally
        {
            daemons.forEach(VhostUserDaemon::close);
            deleteTree(work);
        }
    }

    private int[] parseResolution()
    {
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{2,5})[xX](\\d{2,5})")
            .matcher(resolution.trim());
        if (m.matches())
        {
            final int w = Integer.parseInt(m.group(1));
            final int h = Integer.parseInt(m.group(2));
            if (w >= 64 && h >= 64 && w <= GpuOptions.MAX_DEFAULT_DIMENSION && h <= GpuOptions.MAX_DEFAULT_DIMENSION)
            {
                return new int[] {w, h};
            }
        }
        throw new CommandLine.ParameterException(spec.commandLine(), "--resolution must be WIDTHxHEIGHT with each side"
            + " 64.." + GpuOptions.MAX_DEFAULT_DIMENSION + ", got '" + resolution + "'");
    }

    private static void deleteTree(final Path dir) throws IOException
    {
        try (var files = Files.walk(dir))
        {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static Path jvhostHome()
    {
        final String env = System.getenv("JVHOST_HOME");
        if (null != env)
        {
            return Path.of(env);
        }
        try
        {
            // launcher/target/jvhost.jar -> the repository root
            final Path jar = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent().getParent();
        }
        catch (final java.net.URISyntaxException e)
        {
            return Path.of(".");
        }
    }

    private static Path buildInitramfs3d(final InitramfsScript script, final Guest3dTree tree, final Path work)
        throws IOException, InterruptedException
    {
        final Path init = work.resolve("init");
        Files.writeString(init, INIT_3D, StandardCharsets.UTF_8);
        final Path out = work.resolve("initramfs.cpio.gz");
        System.err.println("jvhost demo: packing the 3D guest (Debian 12's Mesa, kmscube; about 30 s the first time,"
            + " then cached)");
        script.build(out, init, List.of(tree.image()), 1, MODULES_3D);
        return out;
    }

    private static Path buildInitramfs(final InitramfsScript script, final Path work, final String url)
        throws IOException, InterruptedException
    {
        final Path init = work.resolve("init");
        Files.writeString(init, """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            /bin/load-modules >/dev/null 2>&1
            echo
            echo "jvhost demo guest. Hardware RNG: $(cat /sys/class/misc/hw_random/rng_current) (served by jvhost rng)"
            echo "32 random bytes from /dev/hwrng:"
            head -c 32 /dev/hwrng | od -An -tx1
            echo "Try: head -c 1000000 /dev/hwrng | md5sum     Quit: poweroff -f"
            echo "The screen (jvhost gpu, fbcon on tty1): %s  Typing there goes to tty1 (jvhost input)."
            # tty1, the GPU's console: a shell of its own, restarted when it exits.
            (while true; do setsid -c sh </dev/tty1 >/dev/tty1 2>&1; sleep 1; done) &
            setsid cttyhack /bin/sh
            poweroff -f
            """.formatted(url), StandardCharsets.UTF_8);
        final Path out = work.resolve("initramfs.cpio.gz");
        script.build(out, init, List.of(), 6, "virtio_pci", "virtio_rng", "virtio_gpu", "virtio_input");
        return out;
    }
}
