package io.jvhost.benchmarks.gpu;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.jvhost.benchmarks.MachineInfo;
import io.jvhost.benchmarks.MarkdownSplice;
import io.jvhost.benchmarks.display.KmscubeRate;
import org.openjdk.jmh.results.RunResult;

/**
 * The 3D figures of BENCHMARKS.md, in one run: (f) frames/s and back-end CPU per frame of {@code jvhost gpu -g
 * virglrenderer} through the in-process front-end at 1080p (SUBMIT_3D of a clear + RESOURCE_FLUSH, read back and
 * consumed by QEMU's display, emulated; {@link Gpu3dSession}); (g) the readback of a 1080p frame from virglrenderer
 * against a memcpy of the same bytes, both in the same JMH run ({@code virgl.VirglReadbackBenchmark}); (h) the
 * guest-side kmscube rate in {@code jvhost demo --3d}, frames counted by a viewer of the web console
 * ({@link KmscubeRate}); (i) jvhost against QEMU's C {@code vhost-user-gpu --virgl} on the workload both can serve
 * here (clear + TRANSFER_FROM_HOST_3D of the frame into guest memory; the C back-end runs under our
 * {@link VirglShim}), rounds alternating which goes first. Prints the Markdown between the {@code gpu3dbench} markers
 * of BENCHMARKS.md.
 * <p>
 * Run it through {@code scripts/bench.sh --3d} (or {@code --only-3d}), which builds the jars. {@code --help} lists
 * the options. Exit status: 0 when every part ran, 1 when some failed (the report says which), 2 for a bad command
 * line.
 */
public final class Gpu3dBench
{
    static final String FPS = "fps";
    static final String CPU_MS_PER_FRAME = "cpuMsPerFrame";
    static final String CPU_CORES = "cpuCores";
    static final String FRAME_P50_MS = "frameP50Ms";
    static final String FRAME_P99_MS = "frameP99Ms";
    static final String UPDATES_PER_FRAME = "updatesPerFrame";
    static final String C_BACKEND = "/usr/lib/qemu/vhost-user-gpu";
    static final String BEGIN_MARKER = "<!-- gpu3dbench:begin -->";
    static final String END_MARKER = "<!-- gpu3dbench:end -->";

    static final String USAGE = """
        Gpu3dBench: the 3D figures of BENCHMARKS.md (jvhost gpu -g virglrenderer, virglrenderer's readback, kmscube).
          --root DIR            the jvhost checkout (launcher/target/jvhost.jar; default .)
          --out FILE            also write the report here
          --update-doc FILE     splice the report between the gpu3dbench markers of FILE (BENCHMARKS.md)
          --quick               a short validation run: 1 s warm-up, 2 s measured, quick JMH, 10 s of kmscube
          --warmup S            seconds of frames before measuring (default 2)
          --duration S          seconds measured (default 10)
          --width N --height N  the frame (default 1920x1080)
          --jvhost-gpu CMD      the back-end's command line ({java}, {root}, {socket} filled in)
          --peer-gpu CMD        (i)'s peer ({shim}, {socket} filled in; default QEMU's C back-end under the shim:
                                env LD_PRELOAD={shim} /usr/lib/qemu/vhost-user-gpu --virgl --socket-path {socket})
          --rounds N            (i)'s rounds per back-end, alternating which goes first (default 3)
          --no-peer             skip (i)
          --jmh REGEX           JMH benchmarks for (g) (default virgl\\.VirglReadbackBenchmark)
          --no-jmh              skip (g)
          --kmscube-seconds S   the window of (h) (default 30; 0 skips (h), which boots a TCG guest: 1-2 min)
          --verbose             more log lines
        """;

    private Path root = Path.of(".");
    private Path out;
    private Path updateDoc;
    private boolean quick;
    private Duration warmup = Duration.ofSeconds(2);
    private Duration duration = Duration.ofSeconds(10);
    private int width = 1920;
    private int height = 1080;
    private String jvhostGpu = "{java} --enable-native-access=ALL-UNNAMED @{root}/launcher/jvm.options"
        + " -XX:AOTCache={root}/launcher/target/jvhost.aot -jar {root}/launcher/target/jvhost.jar gpu"
        + " --socket-path {socket} -g virglrenderer --max-hostmem 512M";
    private String peerGpu = "env LD_PRELOAD={shim} " + C_BACKEND + " --virgl --socket-path {socket}";
    private int rounds = 3;
    private boolean noPeer;
    private String jmh = "virgl\\.VirglReadbackBenchmark";
    private boolean noJmh;
    private int kmscubeSeconds = 30;
    private boolean verbose;

    private Gpu3dBench()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Gpu3dBench bench = new Gpu3dBench();
        try
        {
            if (!bench.parse(args))
            {
                System.out.print(USAGE);
                return;
            }
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("Gpu3dBench: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        Log.verbose(bench.verbose);
        System.exit(bench.run());
    }

    /** @return false when help was asked for. */
    private boolean parse(final String[] args)
    {
        boolean explicitKmscube = false;
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            switch (a)
            {
                case "-h", "--help" ->
                {
                    return false;
                }
                case "--root" -> root = Path.of(value(args, ++i, a));
                case "--out" -> out = Path.of(value(args, ++i, a));
                case "--update-doc" -> updateDoc = Path.of(value(args, ++i, a));
                case "--quick" -> quick = true;
                case "--warmup" -> warmup = Duration.ofMillis((long)(seconds(a, value(args, ++i, a)) * 1000));
                case "--duration" -> duration = Duration.ofMillis((long)(seconds(a, value(args, ++i, a)) * 1000));
                case "--width" -> width = (int)seconds(a, value(args, ++i, a));
                case "--height" -> height = (int)seconds(a, value(args, ++i, a));
                case "--jvhost-gpu" -> jvhostGpu = value(args, ++i, a);
                case "--peer-gpu" -> peerGpu = value(args, ++i, a);
                case "--rounds" -> rounds = (int)seconds(a, value(args, ++i, a));
                case "--no-peer" -> noPeer = true;
                case "--jmh" -> jmh = value(args, ++i, a);
                case "--no-jmh" -> noJmh = true;
                case "--kmscube-seconds" ->
                {
                    kmscubeSeconds = (int)Double.parseDouble(value(args, ++i, a));
                    explicitKmscube = true;
                }
                case "--verbose" -> verbose = true;
                default -> throw new IllegalArgumentException("unknown option '" + a + "'");
            }
        }
        if (quick)
        {
            warmup = Duration.ofSeconds(1);
            duration = Duration.ofSeconds(2);
            rounds = 1;
            if (!explicitKmscube)
            {
                kmscubeSeconds = 10;
            }
        }
        return true;
    }

    private static String value(final String[] args, final int i, final String option)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static double seconds(final String option, final String value)
    {
        final double v = Double.parseDouble(value);
        if (!(v > 0))
        {
            throw new IllegalArgumentException(option + " must be positive, got " + value);
        }
        return v;
    }

    private List<String> command()
    {
        final String java = ProcessHandle.current().info().command().orElse("java");
        final List<String> words = new ArrayList<>();
        for (final String w : jvhostGpu.trim().split("\\s+"))
        {
            if (w.contains("jvhost.aot") && !Files.isRegularFile(root.resolve("launcher/target/jvhost.aot")))
            {
                continue; // no AOT cache built: the JVM would warn and run without it anyway
            }
            words.add(w.replace("{java}", java).replace("{root}", root.toAbsolutePath().normalize().toString()));
        }
        return words;
    }

    private int run() throws Exception
    {
        final Path work = Files.createTempDirectory("gpu3dbench-");
        final List<String> notes = new ArrayList<>();
        final List<String> failures = new ArrayList<>();
        // A quick run measures nothing, so it does not wait long for quiet.
        final Duration quiet = Duration.ofSeconds(quick ? 5 : 90);
        Log.info("waiting for a quiet machine (at most " + quiet.toSeconds() + " s)");
        final double busy = MachineInfo.awaitQuiet(quiet);
        if (busy > MachineInfo.QUIET)
        {
            notes.add(String.format(Locale.ROOT, "Other processes kept %.0f %% of the %d CPUs busy just before the run"
                + " (after waiting %d s for quiet): the figures are noisy.", 100 * busy, MachineInfo.onlineCpus(),
                quiet.toSeconds()));
        }
        final String loadStart = MachineInfo.loadAverage();
        final Instant started = Instant.now();
        final List<String> command = command();

        final Map<String, Double> frames = new HashMap<>();
        Log.info("3D (f): " + width + "x" + height + " SUBMIT_3D clear + RESOURCE_FLUSH through the front-end");
        try
        {
            Gpu3dSession.run(command, work, width, height, warmup, duration, frames);
        }
        catch (final Exception | Error e)
        {
            failures.add("(f) frames through jvhost gpu -g virglrenderer: " + e);
            Log.info("3D (f) failed: " + e);
        }

        final SideBySide sideBySide = noPeer ? null : sideBySide(command, work, failures);

        List<RunResult> jmhRuns = null;
        if (!noJmh)
        {
            try
            {
                jmhRuns = JmhSection.run(jmh, quick, work.resolve("jmh.log"));
            }
            catch (final Exception | Error e)
            {
                failures.add("(g) JMH: " + e);
                Log.info("JMH failed: " + e + " (log: " + work.resolve("jmh.log") + ")");
            }
        }

        KmscubeRate.Result kmscube = null;
        if (kmscubeSeconds > 0)
        {
            Log.info("3D (h): jvhost demo --3d, kmscube's frames seen by a web console viewer for " + kmscubeSeconds
                + " s");
            try
            {
                kmscube = KmscubeRate.measure(ProcessHandle.current().info().command().orElse("java"),
                    root.toAbsolutePath().normalize(), work, 1024, 768, Duration.ofSeconds(kmscubeSeconds));
                Log.info(String.format(Locale.ROOT, "3D (h): %d frames in %.1f s: %.2f frames/s; first frame %.0f s"
                    + " after start", kmscube.frames(), kmscube.seconds(), kmscube.fps(), kmscube.firstFrame()));
            }
            catch (final Exception | Error e)
            {
                failures.add("(h) kmscube in jvhost demo --3d: " + e);
                Log.info("3D (h) failed: " + e);
            }
        }
        for (final String f : failures)
        {
            notes.add("**Failed:** " + f);
        }
        final String markdown = report(command, started, loadStart, frames, sideBySide, jmhRuns, kmscube, notes);
        System.out.print(markdown);
        System.out.flush();
        if (null != out)
        {
            Files.writeString(out, markdown, StandardCharsets.UTF_8);
            Log.info("report written to " + out);
        }
        if (null != updateDoc)
        {
            MarkdownSplice.splice(updateDoc, BEGIN_MARKER, END_MARKER, markdown);
            Log.info("report spliced into " + updateDoc);
        }
        return failures.isEmpty() ? 0 : 1;
    }

    private String report(final List<String> command, final Instant started, final String loadStart,
        final Map<String, Double> f, final SideBySide sideBySide, final List<RunResult> jmhRuns,
        final KmscubeRate.Result kmscube, final List<String> notes)
    {
        final StringBuilder md = new StringBuilder();
        md.append(BEGIN_MARKER).append('\n');
        md.append("<!-- Generated by Gpu3dBench (scripts/bench.sh --3d); rerun it rather than editing by hand. -->")
            .append("\n\n");
        if (quick)
        {
            md.append("> **Quick run** (`--quick`): validation only, not measurements.\n\n");
        }
        md.append("#### Machine and run\n\n");
        md.append("- CPU: ").append(MachineInfo.cpuModel()).append(", ").append(MachineInfo.onlineCpus())
            .append(" online CPU(s); ").append(MachineInfo.kernel()).append('\n');
        md.append("- JDK: ").append(MachineInfo.jdk()).append('\n');
        md.append("- Run: ").append(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC)
            .format(started)).append(" UTC, ").append(Duration.between(started, Instant.now()).toSeconds())
            .append(" s; ").append(warmup.toMillis() / 1000.0).append(" s warm-up + ")
            .append(duration.toMillis() / 1000.0).append(" s measured; load average ").append(loadStart)
            .append(" at start, ").append(MachineInfo.loadAverage()).append(" at the end\n");
        md.append("- Back-end: `").append(String.join(" ", command).replace(root.toAbsolutePath().normalize()
            .toString(), "{root}")).append("`\n\n");

        md.append("#### (f) 3D frames through jvhost gpu -g virglrenderer (one frame in flight, counted at the"
            + " display)\n\n");
        md.append("| Frame | Frames/s | Back-end CPU ms/frame | Back-end CPU (cores) | Frame p50 ms | Frame p99 ms"
            + " | UPDATEs/frame |\n|---|---:|---:|---:|---:|---:|---:|\n");
        if (f.containsKey(FPS))
        {
            md.append("| ").append(width).append("×").append(height).append(" SUBMIT_3D clear + RESOURCE_FLUSH | ")
                .append(Report.fmt(f.get(FPS))).append(" | ").append(Report.fmt(f.get(CPU_MS_PER_FRAME)))
                .append(" | ").append(Report.fmt(f.get(CPU_CORES))).append(" | ")
                .append(Report.fmt(f.get(FRAME_P50_MS))).append(" | ").append(Report.fmt(f.get(FRAME_P99_MS)))
                .append(" | ").append(Report.fmt(f.get(UPDATES_PER_FRAME))).append(" |\n\n");
        }
        else
        {
            md.append("| not run | | | | | | |\n\n");
        }

        if (null != sideBySide)
        {
            sideBySide.render(md, width, height);
        }

        if (null != jmhRuns)
        {
            md.append(JmhSection.render(jmhRuns, quick).replace("#### JMH microbenchmarks",
                "#### (g) Readback against memcpy, JMH")).append('\n');
            final double readback = score(jmhRuns, "readbackFrame");
            final double memcpy = score(jmhRuns, "baselineMemorySegmentCopy");
            if (readback > 0 && memcpy > 0)
            {
                md.append("Readback ÷ memcpy of the same frame: **").append(Report.fmt(readback / memcpy))
                    .append("** (").append(Report.fmt(readback)).append(" against ").append(Report.fmt(memcpy))
                    .append(" µs; target: readback ≤ 1,200 µs per 1080p frame).\n\n");
            }
        }

        md.append("#### (h) Guest: kmscube in jvhost demo --3d (QEMU TCG, 1024×768)\n\n");
        md.append("| Window s | Frames seen by a viewer | Their pixels ÷ screen | Frames/s | First frame after start s"
            + " |\n|---:|---:|---:|---:|---:|\n");
        if (null != kmscube)
        {
            md.append("| ").append(Report.fmt(kmscube.seconds())).append(" | ").append(kmscube.frames()).append(" | ")
                .append(Report.fmt(kmscube.screens())).append(" | ").append(Report.fmt(kmscube.fps())).append(" | ")
                .append(Report.fmt(kmscube.firstFrame())).append(" |\n\n");
        }
        else
        {
            md.append("| not run | | | | |\n\n");
        }
        if (!notes.isEmpty())
        {
            md.append("#### Notes from this run\n\n");
            notes.forEach(n -> md.append("- ").append(n).append('\n'));
            md.append('\n');
        }
        md.append(END_MARKER).append('\n');
        return md.toString();
    }

    /**
     * (i): {@code rounds} runs of the READBACK_TO_GUEST workload against each back-end, alternating which goes first.
     *
     * @return the runs, or null when the peer cannot run here (the reason is in {@code failures}).
     */
    private SideBySide sideBySide(final List<String> jvhost, final Path work, final List<String> failures)
    {
        final List<String> peer;
        try
        {
            peer = peerCommand(work);
        }
        catch (final Exception e)
        {
            failures.add("(i) QEMU's C back-end: " + e.getMessage());
            Log.info("3D (i) not run: " + e.getMessage());
            return null;
        }
        final SideBySide runs = new SideBySide(jvhost, peer);
        for (int round = 0; round < rounds; round++)
        {
            for (final boolean jvhostNext : round % 2 == 0 ? new boolean[] {true, false} : new boolean[] {false, true})
            {
                final String who = jvhostNext ? "jvhost" : "C";
                final Map<String, Double> metrics = new HashMap<>();
                Log.info("3D (i) round " + (round + 1) + "/" + rounds + ": " + who + ", " + width + "x" + height
                    + " SUBMIT_3D clear + TRANSFER_FROM_HOST_3D into guest memory");
                try
                {
                    final Path dir = Files.createDirectories(work.resolve("i-" + who + "-" + round));
                    Gpu3dSession.run(jvhostNext ? jvhost : peer, dir, width, height, warmup, duration, metrics,
                        Gpu3dGuest.Workload.READBACK_TO_GUEST);
                    (jvhostNext ? runs.jvhost : runs.peer).add(metrics);
                }
                catch (final Exception | Error e)
                {
                    failures.add("(i) round " + (round + 1) + ", " + who + ": " + e);
                    Log.info("3D (i) " + who + " failed: " + e);
                }
            }
        }
        return runs;
    }

    private List<String> peerCommand(final Path work) throws Exception
    {
        Path shim = null;
        if (peerGpu.contains("{shim}"))
        {
            if (!Files.isExecutable(Path.of(C_BACKEND)))
            {
                throw new IllegalStateException(C_BACKEND + " is not installed (Debian's qemu-system-x86 ships it)");
            }
            shim = VirglShim.build(Files.createDirectories(work.resolve("shim")));
        }
        final List<String> words = new ArrayList<>();
        for (final String w : peerGpu.trim().split("\\s+"))
        {
            words.add(null == shim ? w : w.replace("{shim}", shim.toString()));
        }
        return words;
    }

    /** (i)'s runs, per back-end. */
    private static final class SideBySide
    {
        final List<String> jvhostCommand;
        final List<String> peerCommand;
        final List<Map<String, Double>> jvhost = new ArrayList<>();
        final List<Map<String, Double>> peer = new ArrayList<>();

        SideBySide(final List<String> jvhostCommand, final List<String> peerCommand)
        {
            this.jvhostCommand = jvhostCommand;
            this.peerCommand = peerCommand;
        }

        void render(final StringBuilder md, final int width, final int height)
        {
            md.append("#### (i) jvhost and QEMU's C back-end side by side: ").append(width).append("×").append(height)
                .append(" SUBMIT_3D clear + TRANSFER_FROM_HOST_3D into guest memory (one frame in flight, medians of ")
                .append(Math.max(jvhost.size(), peer.size())).append(" alternating rounds)\n\n");
            md.append("| Back-end | Rounds | Frames/s | Back-end CPU ms/frame | Back-end CPU (cores) | Frame p50 ms"
                + " | Frame p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
            row(md, "jvhost gpu -g virglrenderer", jvhost);
            row(md, "QEMU's C vhost-user-gpu --virgl (shimmed)", peer);
            if (!jvhost.isEmpty() && !peer.isEmpty())
            {
                md.append("\njvhost ÷ C: **").append(Report.fmt(median(jvhost, FPS) / median(peer, FPS)))
                    .append("×** the frame rate at **").append(Report.fmt(median(jvhost, CPU_MS_PER_FRAME)
                    / median(peer, CPU_MS_PER_FRAME))).append("×** the back-end CPU per frame.\n");
            }
            md.append("\nEvery frame's colour is checked in the guest's memory. C back-end: `")
                .append(String.join(" ", peerCommand).replaceAll("LD_PRELOAD=\\S+", "LD_PRELOAD=<shim>"))
                .append("`, the shim (our `virgl-surfaceless-shim.c`, built with gcc at bench time) adds")
                .append(" USE_SURFACELESS to `virgl_renderer_init` and turns a failed dma-buf export into -1;")
                .append(" without it the C back-end cannot start 3D here, and it cannot show a 3D scanout at all")
                .append(" (SET_SCANOUT needs a dma-buf), so (f)'s display workload has no C column.\n\n");
        }

        private static void row(final StringBuilder md, final String name, final List<Map<String, Double>> runs)
        {
            if (runs.isEmpty())
            {
                md.append("| ").append(name).append(" | 0 | not run | | | | |\n");
                return;
            }
            md.append("| ").append(name).append(" | ").append(runs.size());
            for (final String key : new String[] {FPS, CPU_MS_PER_FRAME, CPU_CORES, FRAME_P50_MS, FRAME_P99_MS})
            {
                md.append(" | ").append(Report.fmt(median(runs, key)));
            }
            md.append(" |\n");
        }

        private static double median(final List<Map<String, Double>> runs, final String key)
        {
            final double[] v = runs.stream().mapToDouble(m -> m.get(key)).sorted().toArray();
            return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        }
    }

    /** @return the primary score (µs/op) of the benchmark method {@code name}, or -1. */
    private static double score(final List<RunResult> runs, final String name)
    {
        for (final RunResult r : runs)
        {
            if (r.getParams().getBenchmark().endsWith("." + name))
            {
                return r.getPrimaryResult().getScore();
            }
        }
        return -1;
    }
}
