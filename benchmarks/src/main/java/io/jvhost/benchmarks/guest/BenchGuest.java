package io.jvhost.benchmarks.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A QEMU guest for one benchmark: a kernel, an initramfs whose /init runs the workload, vhost-user devices, guest RAM
 * shared with the back-ends (memfd), one vCPU under the accelerator asked for. Its serial console is read line by line;
 * the workload reports on lines starting with {@code GB }. Killed on close.
 */
final class BenchGuest implements AutoCloseable
{
    private final Process process;
    private final Path log;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = new ArrayList<>();

    private BenchGuest(final Process process, final Path log)
    {
        this.process = process;
        this.log = log;
        Thread.ofPlatform().daemon().name("guest-serial").start(() ->
        {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)))
            {
                for (String line; null != (line = r.readLine());)
                {
                    synchronized (all)
                    {
                        all.add(line);
                    }
                    Files.writeString(log, line + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
                    if (line.startsWith("GB "))
                    {
                        lines.add(line.strip());
                    }
                }
            }
            catch (final IOException e)
            {
                lines.add("GB serial-failed " + e.getMessage());
            }
            lines.add("GB exited");
        });
    }

    /**
     * @param devices QEMU arguments for the devices, e.g. {@code -chardev socket,... -device vhost-user-...}.
     */
    static BenchGuest start(final Path qemu, final String accel, final Path kernel, final Path initrd,
        final String memory, final List<String> devices, final Path log) throws IOException
    {
        final List<String> cmd = new ArrayList<>(List.of(qemu.toString(), "-nodefaults",
            "-object", "memory-backend-memfd,id=mem,size=" + memory + ",share=on",
            "-machine", "pc,memory-backend=mem,accel=" + accel,
            "-m", memory, "-smp", "1", "-display", "none", "-vga", "none", "-nic", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
            "-append", "console=ttyS0 quiet panic=-1"));
        cmd.addAll(devices);
        Files.deleteIfExists(log);
        final Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        return new BenchGuest(p, log);
    }

    /**
     * @return the next {@code GB ...} line of the workload.
     * @throws IOException when the guest ended or went silent for {@code timeout} (with its console's last lines).
     */
    String next(final Duration timeout) throws IOException, InterruptedException
    {
        final String line = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (null == line || line.equals("GB exited") || line.startsWith("GB serial-failed") || line.startsWith("GB error"))
        {
            throw new IOException("guest " + (null == line ? "silent for " + timeout : "said: " + line)
                + "; its console ended with:\n" + tail(15));
        }
        return line;
    }

    String tail(final int n)
    {
        synchronized (all)
        {
            return String.join("\n", all.subList(Math.max(0, all.size() - n), all.size()));
        }
    }

    /** Waits for the guest to power off. */
    void awaitExit(final Duration timeout) throws InterruptedException
    {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        {
            process.destroyForcibly();
        }
    }

    @Override
    public void close()
    {
        process.destroyForcibly();
        try
        {
            process.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** Builds an initramfs (scripts/build-initramfs.sh) holding {@code tree} and running {@code init}. */
    static Path initramfs(final Path root, final Path guestDir, final Path work, final String name, final String init,
        final Path tree, final String... modules) throws IOException, InterruptedException
    {
        final Path script = work.resolve(name + "-init.sh");
        final Path out = work.resolve(name + "-initramfs.cpio.gz");
        Files.writeString(script, init, StandardCharsets.UTF_8);
        final List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("scripts/build-initramfs.sh").toString(),
            "--add", tree.toString(), out.toString(), script.toString()));
        cmd.addAll(List.of(modules));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("JVHOST_GUEST_DIR", guestDir.toString());
        run(pb, "build-initramfs.sh");
        return out;
    }

    /** Compiles a C file of these resources statically into {@code tree/bin/NAME}. */
    static void compile(final String resource, final Path tree, final String name)
        throws IOException, InterruptedException
    {
        final Path source = tree.getParent().resolve(resource);
        try (var in = BenchGuest.class.getResourceAsStream(resource))
        {
            if (null == in)
            {
                throw new IOException("no resource " + resource);
            }
            Files.copy(in, source, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Files.createDirectories(tree.resolve("bin"));
        run(new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o", tree.resolve("bin/" + name).toString(),
            source.toString()).redirectErrorStream(true), "gcc -static " + resource);
    }

    private static void run(final ProcessBuilder pb, final String what) throws IOException, InterruptedException
    {
        final Process p = pb.start();
        p.getOutputStream().close();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0)
        {
            p.destroyForcibly();
            throw new UncheckedIOException(new IOException(what + " failed: " + out.strip()));
        }
    }
}
