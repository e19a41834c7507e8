package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An external vhost-user back-end (ours, QEMU's {@code vhost-user-gpu}, …) run as a child process: started with a
 * command line, considered ready once its socket is listening, its stderr captured to a file, and killed on close.
 * <p>
 * Readiness is read from {@code /proc/net/unix} (a listening socket bound to the path), so the check never connects:
 * back-ends such as QEMU's contrib ones accept exactly one connection and would take a probe for the VMM.
 */
public final class BackendProcess implements AutoCloseable
{
    private static final int SO_ACCEPTCON = 0x10000;

    private final List<String> command;
    private final Path socketPath;
    private final Path stderrFile;
    private final Process process;

    private BackendProcess(final List<String> command, final Path socketPath, final Path stderrFile,
        final Process process)
    {
        this.command = List.copyOf(command);
        this.socketPath = socketPath;
        this.stderrFile = stderrFile;
        this.process = process;
    }

    /**
     * Starts {@code command} and waits until it listens on {@code socketPath}.
     *
     * @param stderrFile where the child's stderr goes (its stdout goes to the same path plus {@code .stdout}).
     * @param startup    how long the back-end may take to listen.
     * @throws IOException if it could not start, exited, or did not listen in time (the message quotes its stderr);
     *                     the child is killed then.
     */
    public static BackendProcess start(final List<String> command, final Path socketPath, final Path stderrFile,
        final Duration startup) throws IOException
    {
        return start(command, Map.of(), socketPath, stderrFile, startup);
    }

    /**
     * {@link #start(List, Path, Path, Duration)} with extra environment variables.
     */
    public static BackendProcess start(final List<String> command, final Map<String, String> environment,
        final Path socketPath, final Path stderrFile, final Duration startup) throws IOException
    {
        final ProcessBuilder pb = new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .redirectError(stderrFile.toFile())
            .redirectOutput(Path.of(stderrFile + ".stdout").toFile());
        pb.environment().putAll(environment);
        final Process process = pb.start();
        final BackendProcess backend = new BackendProcess(command, socketPath, stderrFile, process);
        try
        {
            backend.awaitListening(startup);
        }
        catch (final IOException | RuntimeException e)
        {
            backend.close();
            throw e;
        }
        return backend;
    }

    private void awaitListening(final Duration startup) throws IOException
    {
        final long end = System.nanoTime() + startup.toNanos();
        long pause = 1;
        while (true)
        {
            if (isListening(socketPath))
            {
                return;
            }
            if (!process.isAlive())
            {
                throw new IOException("back-end " + command + " exited with status " + process.exitValue()
                    + " before listening on " + socketPath + "; stderr: " + stderrTail());
            }
            if (System.nanoTime() - end >= 0)
            {
                throw new IOException("back-end " + command + " did not listen on " + socketPath + " within "
                    + startup.toMillis() + " ms; stderr: " + stderrTail());
            }
            try
            {
                Thread.sleep(pause);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + socketPath, e);
            }
            pause = Math.min(2 * pause, 20);
        }
    }

    /**
     * @return true when a socket in this network namespace listens on {@code path} (per {@code /proc/net/unix};
     *     without procfs, when the socket file exists).
     */
    public static boolean isListening(final Path path) throws IOException
    {
        final String wanted = path.toAbsolutePath().toString();
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(Path.of("/proc/net/unix"), StandardCharsets.UTF_8);
        }
        catch (final IOException e)
        {
            // No procfs: the socket file existing is the best we can tell without connecting.
            return Files.exists(path);
        }
        // Num RefCount Protocol Flags Type St Inode Path
        for (final String line : lines)
        {
            final String[] f = line.trim().split("\\s+", 8);
            if (f.length == 8 && f[7].equals(wanted))
            {
                try
                {
                    if ((Integer.parseInt(f[3], 16) & SO_ACCEPTCON) != 0)
                    {
                        return true;
                    }
                }
                catch (final NumberFormatException ignored)
                {
                    // The header line.
                }
            }
        }
        return false;
    }

    public Process process()
    {
        return process;
    }

    public long pid()
    {
        return process.pid();
    }

    public boolean isAlive()
    {
        return process.isAlive();
    }

    public Path socketPath()
    {
        return socketPath;
    }

    public Path stderrFile()
    {
        return stderrFile;
    }

    /**
     * @return everything the back-end wrote to stderr so far.
     */
    public String stderr() throws IOException
    {
        return Files.exists(stderrFile) ? Files.readString(stderrFile, StandardCharsets.UTF_8) : "";
    }

    private String stderrTail()
    {
        try
        {
            final String all = stderr();
            return all.length() <= 4000 ? all : "..." + all.substring(all.length() - 4000);
        }
        catch (final IOException e)
        {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /**
     * Waits for the back-end to exit by itself.
     *
     * @return its exit status, or -1 if it is still running after {@code timeout}.
     */
    public int waitFor(final Duration timeout) throws InterruptedException
    {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    /**
     * Kills the back-end: SIGTERM, then SIGKILL after 2 seconds; its descendants too.
     */
    @Override
    public void close()
    {
        final List<ProcessHandle> descendants = process.descendants().toList();
        process.destroy();
        try
        {
            if (!process.waitFor(2, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                process.waitFor(2, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException e)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        for (final ProcessHandle d : descendants)
        {
            d.destroyForcibly();
        }
    }

    @Override
    public String toString()
    {
        return "BackendProcess[pid=" + process.pid() + ", " + command + ", socket=" + socketPath + "]";
    }
}
