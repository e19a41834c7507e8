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
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Boot a small Linux guest whose devices are served by jvhost, console on this terminal.",
        "The guest's hardware RNG is jvhost rng; its screen (jvhost gpu) is in your browser at the printed URL,",
        "where typing goes to a shell on the guest's tty1 (jvhost's virtio-input keyboard).",
        "Quit with 'poweroff -f' in the guest, or Ctrl-A X."})
final class DemoCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--memory", defaultValue = "512M", description = "Guest RAM. Default: ${DEFAULT-VALUE}.")
    private String memory;

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

    @Override
    public Integer call() throws Exception
    {
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
        final int[] size = parseResolution();
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
        final InputDevice input = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        final GpuDevice gpu = new GpuDevice("gpu0", GpuOptions.builder().defaultMode(size[0], size[1]).build());
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
            final Path initrd = buildInitramfs(home, guest, work, url);
            daemons.add(VhostUserDaemon.listen("rng0",
                new RngDevice("rng0", source, RngDevice.MAX_PERIOD_MS, Long.MAX_VALUE), rngSocket));
            daemons.add(VhostUserDaemon.listen("gpu0", gpu, () -> new GpuSocketExtension("gpu0",
                GpuSocketExtension.DisplayHost.of(composite), gpu.memoryBudget(), false,
                VhostUserGpuDisplay.DEFAULT_REPLY_TIMEOUT), gpuSocket));
            daemons.add(VhostUserDaemon.listen("input0", input, inputSocket));
            final List<Thread> servers = new ArrayList<>();
            for (final VhostUserDaemon d : daemons)
            {
                final String thread = "jvhost-" + servers.size();
                servers.add(Thread.ofPlatform().name(thread).start(ThreadTop.guarded(thread, d::run)));
            }
            final List<String> command = new ArrayList<>(List.of(qemu, "-accel", "tcg", "-m", memory,
                "-object", "memory-backend-memfd,id=mem,size=" + memory + ",share=on",
                "-machine", "pc,memory-backend=mem", "-nodefaults", "-no-reboot", "-display", "none",
                "-serial", "mon:stdio", "-kernel", guest.resolve("vmlinuz").toString(),
                "-initrd", initrd.toString(), "-append", "console=tty1 console=ttyS0 quiet panic=-1",
                "-chardev", "socket,id=rng0,path=" + rngSocket, "-device", "vhost-user-rng-pci,chardev=rng0",
                "-chardev", "socket,id=gpu0,path=" + gpuSocket,
                "-device", "vhost-user-gpu-pci,chardev=gpu0,xres=" + size[0] + ",yres=" + size[1],
                "-chardev", "socket,id=input0,path=" + inputSocket, "-device", "vhost-user-input-pci,chardev=input0"));
            System.err.println("jvhost demo: booting the guest (TCG, a few seconds); jvhost serves rng, gpu and input"
                + " from this process");
            System.err.println("jvhost demo: the guest's screen is at " + url + " (open it in a browser: type there"
                + " into the shell on tty1)");
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

    private static Path buildInitramfs(final Path home, final Path guest, final Path work, final String url)
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
        final ProcessBuilder pb = new ProcessBuilder("bash", home.resolve("scripts/build-initramfs.sh").toString(),
            out.toString(), init.toString(), "virtio_pci", "virtio_rng", "virtio_gpu", "virtio_input").inheritIO();
        pb.environment().put("JVHOST_GUEST_DIR", guest.toString());
        if (pb.start().waitFor() != 0)
        {
            throw new IOException("building the guest initramfs failed (scripts/build-initramfs.sh)");
        }
        return out;
    }
}
