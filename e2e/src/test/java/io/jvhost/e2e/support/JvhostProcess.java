package io.jvhost.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a jvhost back-end ({@code io.jvhost.launcher.Main}) as a separate process on the test class path, the way a
 * user would run {@code ./jvhost <device> ...}, and captures its log.
 */
public final class JvhostProcess implements AutoCloseable
{
    private final Process process;
    private final Path log;

    private JvhostProcess(final Process process, final Path log)
    {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code jvhost args...} and waits until every socket in {@code sockets} exists.
     */
    public static JvhostProcess start(final Path workDir, final List<Path> sockets, final String... args)
        throws IOException, InterruptedException
    {
        return start(workDir, sockets, List.of(), args);
    }

    /**
     * Starts {@code jvhost args...} with extra JVM options (e.g. {@link #daemonJvmOptions()}) and waits until every
     * socket in {@code sockets} exists.
     */
    public static JvhostProcess start(final Path workDir, final List<Path> sockets, final List<String> jvmOptions,
        final String... args) throws IOException, InterruptedException
    {
        final String java = ProcessHandle.current().info().command().orElse("java");
        final List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        // The build's coverage agent (e2e/pom.xml), so the back-end processes count towards coverage too.
        final String coverage = System.getProperty("jvhost.coverage.agent", "");
        if (coverage.startsWith("-javaagent:"))
        {
            command.add(coverage);
        }
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.jvhost.launcher.Main"));
        command.addAll(List.of(args));
        final Path log = workDir.resolve("jvhost-" + args[0] + ".log");
        final Process process = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
        final JvhostProcess p = new JvhostProcess(process, log);
        final long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!sockets.stream().allMatch(Files::exists))
        {
            if (!process.isAlive() || System.nanoTime() > deadline)
            {
                p.close();
                throw new IllegalStateException("jvhost " + String.join(" ", args) + " did not create " + sockets
                    + (process.isAlive() ? " within 30 s" : ", exit code " + process.exitValue()) + "; log:\n"
                    + p.log());
            }
            Thread.sleep(20);
        }
        return p;
    }

    /**
     * @return the JVM options {@code ./jvhost} runs daemons with ({@code @launcher/jvm.options}: serial collector,
     *     small heap), so that memory figures match what users see.
     */
    public static List<String> daemonJvmOptions()
    {
        final Path options = Path.of("..", "launcher", "jvm.options").toAbsolutePath().normalize();
        if (!Files.isRegularFile(options))
        {
            throw new IllegalStateException("no " + options + ": tests run from the e2e module directory");
        }
        return List.of("@" + options);
    }

    public Process process()
    {
        return process;
    }

    /**
     * @return everything the back-end logged so far.
     */
    public String log()
    {
        try
        {
            return Files.readString(log, StandardCharsets.UTF_8);
        }
        catch (final IOException e)
        {
            return "(no log: " + e + ")";
        }
    }

    /**
     * Sends SIGTERM and waits for the exit code.
     */
    public int terminate(final Duration timeout) throws InterruptedException
    {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        {
            process.destroyForcibly().waitFor();
            throw new IllegalStateException("back-end did not stop within " + timeout + " of SIGTERM; log:\n" + log());
        }
        return process.exitValue();
    }

    @Override
    public void close()
    {
        if (process.isAlive())
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
    }
}
