package io.jvhost.benchmarks.gpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

import io.jvhost.benchmarks.MachineInfo;
import io.jvhost.benchmarks.MarkdownSplice;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;

/**
 * Issue 5's comparison: jvhost's GPU back-end against QEMU's C {@code vhost-user-gpu}, both started as processes from
 * their command lines and driven through the in-process front-end and QEMU display emulator, plus jvhost's rng and
 * same-run baselines; prints the Markdown that goes into BENCHMARKS.md.
 * <p>
 * Workloads per back-end and round: (e) start-up to the first answered GET_FEATURES; (a) 1080p full-frame
 * TRANSFER_TO_HOST_2D + RESOURCE_FLUSH counted at the display, and (a') the same guest-paced; (e) VmRSS after (a);
 * (b) 64×16 cell updates; (c) GET_DISPLAY_INFO round trips. Per round also: the baselines (memcpy of a frame, eventfd
 * ping-pong) and (d) jvhost rng at 64 B and 4 KiB. Rounds alternate which GPU back-end goes first (jvhost first in
 * odd rounds) so drift of the machine hits both; the report gives medians over rounds.
 * <p>
 * Run it through {@code scripts/bench.sh} (or {@code ./jvhost bench}), which builds what it needs.
 * {@code --help} lists the options. Exit status: 0 when every workload ran, 1 when some failed (the report says
 * which), 2 for a bad command line or a missing back-end jar.
 */
public final class GpuBench
{
    private GpuBench()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final BenchConfig config;
        try
        {
            config = BenchConfig.parse(args);
        }
        catch (final BenchConfig.HelpRequested e)
        {
            System.out.print(BenchConfig.USAGE);
            return;
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("GpuBench: " + e.getMessage());
            System.err.print(BenchConfig.USAGE);
            System.exit(2);
            return;
        }
        Log.verbose(config.verbose());
        quietEmulatorLog(config.verbose());
        int status;
        try
        {
            status = new GpuBench().run(config);
        }
        catch (final IllegalStateException e)
        {
            System.err.println("GpuBench: " + e.getMessage());
            status = 2;
        }
        System.exit(status);
    }

    /** Held so the level set on it stays (java.util.logging keeps loggers weakly). */
    private static Logger emulatorLog;

    /**
     * The display emulator logs every protocol violation at WARNING; QEMU's C back-end sends each small UPDATE with
     * uninitialised flags, which would flood stderr (and make the emulator slower for the peer than for jvhost). The
     * violations are still counted and reported in the notes.
     */
    private static void quietEmulatorLog(final boolean verbose)
    {
        if (!verbose)
        {
            emulatorLog = Logger.getLogger(QemuDisplayEmulator.class.getName());
            emulatorLog.setLevel(Level.SEVERE);
        }
    }

    private int run(final BenchConfig config) throws Exception
    {
        final List<String> jvhostGpu = config.jvhostGpu();
        final List<String> peerGpu = config.peerGpu();
        checkJar(jvhostGpu);
        checkJar(config.jvhostRng());
        final boolean ownWorkDir = null == config.workDir();
        if (ownWorkDir)
        {
            config.workDir(Files.createTempDirectory("gpubench-"));
        }
        else
        {
            Files.createDirectories(config.workDir());
        }
        final Results results = new Results();
        final List<String> notes = new ArrayList<>();
        final List<String> failures = new ArrayList<>();
        if (null == peerGpu)
        {
            notes.add("The C peer was not run (" + (config.arguments().contains("--no-peer") ? "--no-peer"
                : BenchConfig.DEFAULT_PEER_GPU + " is missing: install Debian's qemu-system-gui") + ").");
        }
        Log.info("waiting for a quiet machine (at most 90 s)");
        final double busy = MachineInfo.awaitQuiet(Duration.ofSeconds(90));
        final String loadStart = MachineInfo.loadAverage();
        if (busy > MachineInfo.QUIET)
        {
            final String warning = String.format("Other processes kept %.0f %% of the %d CPUs busy just before the"
                + " run (after waiting 90 s for quiet): the figures are noisy.", 100 * busy, MachineInfo.onlineCpus());
            Log.info("WARNING: " + warning);
            notes.add(warning);
        }
        final Instant started = Instant.now();
        Log.info("work directory " + config.workDir() + "; " + config.rounds() + " round(s), " + seconds(config
            .warmup()) + " s warm-up + " + seconds(config.duration()) + " s per workload; load average " + loadStart);
        for (int r = 1; r <= config.rounds(); r++)
        {
            final int round = r;
            Log.info("=== round " + round + " of " + config.rounds());
            final Map<String, Double> base = new HashMap<>();
            attempt("baselines, round " + round, failures, () ->
            {
                Baselines.memcpyFrame(config, base);
                Baselines.eventfdPingPong(config, base);
            });
            results.record(Results.BASE, round, base);
            final boolean jvhostFirst = round % 2 == 1 || null == peerGpu;
            for (int i = 0; i < 2; i++)
            {
                final boolean jvhost = (i == 0) == jvhostFirst;
                if (!jvhost && null == peerGpu)
                {
                    continue;
                }
                final String label = jvhost ? "jvhost" : "c-peer";
                final List<String> command = jvhost ? jvhostGpu : peerGpu;
                final Map<String, Double> m = new HashMap<>();
                attempt(label + " GPU, round " + round, failures,
                    () -> GpuBackendSession.run(label, round, command, config, m, notes));
                results.record(jvhost ? Results.JVHOST : Results.PEER, round, m);
            }
            final Map<String, Double> rng = new HashMap<>();
            attempt("jvhost rng, round " + round, failures, () -> RngWorkload.run(config, rng));
            results.record(Results.JVHOST, round, rng);
        }
        final Instant finished = Instant.now();
        final String loadEnd = MachineInfo.loadAverage();
        String jmh = null;
        if (null != config.jmh())
        {
            final Path jmhLog = config.workDir().resolve("jmh.log");
            try
            {
                jmh = JmhSection.run(config, jmhLog);
            }
            catch (final Exception | Error e)
            {
                failures.add("JMH: " + e);
                Log.info("JMH failed: " + e + " (log: " + jmhLog + ")");
            }
        }
        for (final String f : failures)
        {
            notes.add("**Failed:** " + f);
        }
        final List<String> header = header(config, jvhostGpu, peerGpu, started, finished, loadStart, loadEnd);
        final String markdown = new Report(config, results, null != peerGpu).render(header, notes, jmh);
        System.out.print(markdown);
        System.out.flush();
        if (null != config.out())
        {
            Files.writeString(config.out(), markdown, StandardCharsets.UTF_8);
            Log.info("report written to " + config.out());
        }
        if (null != config.updateDoc())
        {
            updateDoc(config.updateDoc(), markdown);
            Log.info("report spliced into " + config.updateDoc());
        }
        if (ownWorkDir && failures.isEmpty())
        {
            deleteTree(config.workDir());
        }
        else
        {
            Log.info("back-end logs kept in " + config.workDir());
        }
        return failures.isEmpty() ? 0 : 1;
    }

    /**
     * A workload body that may throw.
     */
    private interface Body
    {
        void run() throws Exception;
    }

    private static void attempt(final String what, final List<String> failures, final Body body)
    {
        try
        {
            body.run();
        }
        catch (final Exception | Error e)
        {
            final String message = what + ": " + e;
            failures.add(message);
            Log.info("FAILED " + message);
            if (!(e instanceof IllegalStateException))
            {
                e.printStackTrace();
            }
        }
    }

    private static void checkJar(final List<String> command)
    {
        for (int i = 0; i + 1 < command.size(); i++)
        {
            if (command.get(i).equals("-jar") && !Files.isRegularFile(Path.of(command.get(i + 1))))
            {
                throw new IllegalStateException(command.get(i + 1) + " does not exist: build it first"
                    + " (scripts/bench.sh does: ./mvnw -B -DskipTests package -pl launcher,benchmarks -am)");
            }
        }
    }

    private static List<String> header(final BenchConfig config, final List<String> jvhostGpu,
        final List<String> peerGpu, final Instant started, final Instant finished, final String loadStart,
        final String loadEnd)
    {
        final List<String> h = new ArrayList<>();
        h.add("CPU: " + MachineInfo.cpuModel() + ", " + MachineInfo.onlineCpus() + " online CPU(s) ("
            + Runtime.getRuntime().availableProcessors() + " available to the JVM), " + MachineInfo.memory()
            + " RAM; " + MachineInfo.kernel());
        h.add("JDK: " + MachineInfo.jdk() + " (GpuBench, and jvhost's back-ends unless their command says otherwise)");
        String qemu = MachineInfo.qemuVersion();
        if (null != peerGpu)
        {
            final String pkg = MachineInfo.packageOf(peerGpu.getFirst());
            qemu += "; C peer `" + peerGpu.getFirst() + "`" + (null == pkg ? "" : " from " + pkg);
        }
        h.add("QEMU: " + qemu);
        h.add("Run: " + DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(started.atOffset(ZoneOffset.UTC).withNano(0))
            + " UTC, " + Math.round((finished.toEpochMilli() - started.toEpochMilli()) / 1000.0) + " s for the "
            + "rounds; " + config.rounds() + " round(s), " + seconds(config.warmup()) + " s warm-up + "
            + seconds(config.duration()) + " s measured per workload; jvhost first in odd rounds, C peer first in"
            + " even ones; a fresh back-end process per round; load average (1/5/15 min) " + loadStart
            + " at start, " + loadEnd + " at the end");
        h.add("jvhost GPU: `" + String.join(" ", jvhostGpu) + "`");
        if (null != peerGpu)
        {
            h.add("C peer GPU: `" + String.join(" ", peerGpu) + "`");
        }
        h.add("jvhost rng: `" + String.join(" ", config.jvhostRng()) + "`");
        h.add("Guest side: " + config.width() + "×" + config.height() + " B8G8R8X8 resource backed by "
            + ((long)config.width() * config.height() * 4 + 4095) / 4096 + " scattered 4 KiB pages, control queue 64"
            + " / cursor queue 16, every command in an indirect table, EVENT_IDX, display emulator answering as QEMU 10"
            + " (EDID | DMABUF2 protocol features, one " + config.width() + "×" + config.height() + " output)");
        return h;
    }

    private static String seconds(final Duration d)
    {
        return Report.num(d.toMillis() / 1000.0);
    }

    /**
     * Replaces the text between the markers (inclusive) in {@code doc}, or appends the report when they are missing.
     */
    static void updateDoc(final Path doc, final String markdown) throws IOException
    {
        MarkdownSplice.splice(doc, Report.BEGIN_MARKER, Report.END_MARKER, markdown);
    }

    private static void deleteTree(final Path dir)
    {
        try (Stream<Path> walk = Files.walk(dir))
        {
            walk.sorted(Comparator.reverseOrder()).forEach(p ->
            {
                try
                {
                    Files.deleteIfExists(p);
                }
                catch (final IOException e)
                {
                    throw new UncheckedIOException(e);
                }
            });
        }
        catch (final IOException | UncheckedIOException e)
        {
            Log.info("could not delete " + dir + ": " + e.getMessage());
        }
    }
}
