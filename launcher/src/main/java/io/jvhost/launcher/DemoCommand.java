package io.jvhost.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.rng.EntropySource;
import io.jvhost.device.rng.RngDevice;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvhost demo}: boots a small Linux guest in QEMU whose devices are served by jvhost back-ends running in
 * this process, with the guest's console on this terminal. Run it through {@code ./jvhost demo}, which installs
 * QEMU and the guest kernel first.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Boot a small Linux guest whose devices are served by jvhost, console on this terminal.",
        "The guest's hardware RNG is jvhost rng. Quit with 'poweroff -f' in the guest, or Ctrl-A X."})
final class DemoCommand implements Callable<Integer>
{
    @Option(names = "--memory", defaultValue = "512M", description = "Guest RAM. Default: ${DEFAULT-VALUE}.")
    private String memory;

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
        final Path work = Files.createTempDirectory("jvhost-demo-");
        final Path socket = work.resolve("rng.sock");
        final Path initrd = buildInitramfs(home, guest, work);
        try (EntropySource source = EntropySource.open("/dev/urandom");
             VhostUserDaemon rng = VhostUserDaemon.listen("rng0",
                 new RngDevice("rng0", source, RngDevice.MAX_PERIOD_MS, Long.MAX_VALUE), socket))
        {
            final Thread server = Thread.ofPlatform().name("jvhost-rng").start(rng::run);
            final List<String> command = new ArrayList<>(List.of(qemu, "-accel", "tcg", "-m", memory,
                "-object", "memory-backend-memfd,id=mem,size=" + memory + ",share=on",
                "-machine", "pc,memory-backend=mem", "-nodefaults", "-no-reboot", "-display", "none",
                "-serial", "mon:stdio", "-kernel", guest.resolve("vmlinuz").toString(),
                "-initrd", initrd.toString(), "-append", "console=ttyS0 quiet panic=-1",
                "-chardev", "socket,id=rng0,path=" + socket, "-device", "vhost-user-rng-pci,chardev=rng0"));
            System.err.println("jvhost demo: booting the guest (TCG, a few seconds); jvhost rng serves " + socket);
            final int exit = new ProcessBuilder(command).inheritIO().start().waitFor();
            rng.shutdown();
            server.join(5000);
            return exit;
        }
        finally
        {
            try (var files = Files.walk(work))
            {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
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

    private static Path buildInitramfs(final Path home, final Path guest, final Path work)
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
            setsid cttyhack /bin/sh
            poweroff -f
            """, StandardCharsets.UTF_8);
        final Path out = work.resolve("initramfs.cpio.gz");
        final ProcessBuilder pb = new ProcessBuilder("bash", home.resolve("scripts/build-initramfs.sh").toString(),
            out.toString(), init.toString(), "virtio_pci", "virtio_rng").inheritIO();
        pb.environment().put("JVHOST_GUEST_DIR", guest.toString());
        if (pb.start().waitFor() != 0)
        {
            throw new IOException("building the guest initramfs failed (scripts/build-initramfs.sh)");
        }
        return out;
    }
}
