package io.jvhost.benchmarks.display;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.jvhost.benchmarks.MachineInfo;
import io.jvhost.benchmarks.MarkdownSplice;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.display.DisplayServer;
import org.HdrHistogram.Histogram;

/**
 * Issue 4's display figures: frame latency from RESOURCE_FLUSH to the viewer, and bytes per frame in each encoding,
 * for jvhost's own display served over WebSocket (the web console's path).
 * <p>
 * A {@link DisplayServer} runs in this process with a web endpoint on 127.0.0.1; a WebSocket RFB viewer
 * ({@link WsRfbClient}) connects per encoding and workload. A "GPU worker" thread calls
 * {@link DisplayServer#updateScanout} exactly as {@code GpuDevice} does on RESOURCE_FLUSH (B8G8R8X8 pixels of an
 * off-heap resource, its stride and offset) and waits until the viewer has read the whole FramebufferUpdate; the
 * viewer keeps one incremental FramebufferUpdateRequest outstanding, as noVNC does. So one frame is in flight, and
 * latency is measured on one clock: from the call to the update's last byte read.
 * <p>
 * Workloads: (i) full 1920×1080 frames of noise, (ii) full frames of a desktop-like picture, (iii) a 64×16 text
 * cell at moving positions. {@code --help} lists the options; {@code scripts/bench.sh} runs it after GpuBench.
 * Exit status 0, 1 when a workload failed (the report says which), 2 for a bad command line.
 */
public final class DisplayBench
{
    static final String BEGIN_MARKER = "<!-- displaybench:begin -->";
    static final String END_MARKER = "<!-- displaybench:end -->";
    static final String USAGE = """
        usage: DisplayBench [options]
          --warmup S            warm-up seconds before each measured row (default 1)
          --duration S          measured seconds per row, one row per workload and encoding (default 5)
          --quick               a short validation run: 0.2 s warm-up, 0.5 s measured
          --out FILE            also write the report to FILE
          --update-doc FILE     replace the text between the displaybench markers in FILE (BENCHMARKS.md)
          --verbose             the display server's log lines too
        """;

    private static final int WIDTH = 1920;
    private static final int HEIGHT = 1080;
    private static final int CELL_WIDTH = 64;
    private static final int CELL_HEIGHT = 16;
    private static final int[] ENCODINGS = {WsRfbClient.RAW, WsRfbClient.ZLIB, WsRfbClient.ZRLE};
    private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long HIGHEST_NANOS = TimeUnit.MINUTES.toNanos(1);
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Held so the level set on it stays (java.util.logging keeps loggers weakly). */
    private static Logger displayLog;

    private DisplayBench()
    {
    }

    /**
     * The command line.
     */
    record Options(Duration warmup, Duration duration, boolean quick, Path out, Path updateDoc, boolean verbose)
    {
        static Options parse(final String[] args)
        {
            Duration warmup = Duration.ofSeconds(1);
            Duration duration = Duration.ofSeconds(5);
            boolean quick = false;
            Path out = null;
            Path doc = null;
            boolean verbose = false;
            for (int i = 0; i < args.length; i++)
            {
                final String a = args[i];
                switch (a)
                {
                    case "--warmup" -> warmup = seconds(a, value(args, ++i, a));
                    case "--duration" -> duration = seconds(a, value(args, ++i, a));
                    case "--quick" ->
                    {
                        quick = true;
                        warmup = Duration.ofMillis(200);
                        duration = Duration.ofMillis(500);
                    }
                    case "--out" -> out = Path.of(value(args, ++i, a));
                    case "--update-doc" -> doc = Path.of(value(args, ++i, a));
                    case "--verbose" -> verbose = true;
                    case "-h", "--help" -> throw new HelpRequested();
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            return new Options(warmup, duration, quick, out, doc, verbose);
        }

        private static String value(final String[] args, final int i, final String option)
        {
            if (i >= args.length)
            {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static Duration seconds(final String option, final String text)
        {
            final double s;
            try
            {
                s = Double.parseDouble(text.trim());
            }
            catch (final NumberFormatException e)
            {
                throw new IllegalArgumentException(option + " takes seconds, got " + text);
            }
            if (!(s >= 0))
            {
                throw new IllegalArgumentException(option + " must not be negative, got " + text);
            }
            return Duration.ofNanos((long)(s * 1e9));
        }

        boolean shortened()
        {
            return warmup.compareTo(Duration.ofSeconds(1)) < 0 || duration.compareTo(Duration.ofSeconds(5)) < 0;
        }
    }

    /**
     * Thrown for {@code --help}.
     */
    static final class HelpRequested extends RuntimeException
    {
        HelpRequested()
        {
            super("help", null, false, false);
        }
    }

    /**
     * What the GPU worker flushes, frame after frame.
     */
    enum Workload
    {
        NOISE("(i) 1920×1080 noise", WIDTH, HEIGHT),
        DESKTOP("(ii) 1920×1080 desktop-like", WIDTH, HEIGHT),
        CELL("(iii) 64×16 text cell, moving", CELL_WIDTH, CELL_HEIGHT);

        final String label;
        final int width;
        final int height;

        Workload(final String label, final int width, final int height)
        {
            this.label = label;
            this.width = width;
            this.height = height;
        }

        int[] picture(final int variant)
        {
            return switch (this)
            {
                case NOISE -> Scenes.noise(WIDTH, HEIGHT, variant);
                case DESKTOP -> Scenes.desktop(WIDTH, HEIGHT, variant);
                case CELL -> Scenes.console(WIDTH, HEIGHT, variant);
            };
        }
    }

    /**
     * One workload in one encoding.
     */
    record Row(Workload workload, int encoding, long frames, double seconds, Histogram latency, Histogram call,
        long bytes, long wrongArea, String failure)
    {
        double framesPerSecond()
        {
            return seconds > 0 ? frames / seconds : 0;
        }

        double bytesPerFrame()
        {
            return frames > 0 ? (double)bytes / frames : 0;
        }

        double ratioToRaw()
        {
            return bytesPerFrame() / (4.0 * workload.width * workload.height);
        }
    }

    public static void main(final String[] args) throws Exception
    {
        final Options options;
        try
        {
            options = Options.parse(args);
        }
        catch (final HelpRequested e)
        {
            System.out.print(USAGE);
            return;
        }
        catch (final IllegalArgumentException e)
        {
            System.err.println("DisplayBench: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (!options.verbose())
        {
            // Every viewer's connect and disconnect is logged at INFO; only problems matter here.
            displayLog = Logger.getLogger("io.jvhost.display");
            displayLog.setLevel(Level.WARNING);
        }
        System.exit(run(options));
    }

    private static int run(final Options options) throws Exception
    {
        log("waiting for a quiet machine (at most 90 s)");
        final double busy = MachineInfo.awaitQuiet(Duration.ofSeconds(90));
        final String loadStart = MachineInfo.loadAverage();
        final List<String> notes = new ArrayList<>();
        if (busy > MachineInfo.QUIET)
        {
            final String warning = String.format(Locale.ROOT, "Other processes kept %.0f %% of the %d CPUs busy just"
                + " before the run (after waiting 90 s for quiet): the figures are noisy.", 100 * busy,
                MachineInfo.onlineCpus());
            log("WARNING: " + warning);
            notes.add(warning);
        }
        final Instant started = Instant.now();
        final List<Row> rows = new ArrayList<>();
        try (DisplayServer display = DisplayServer.builder().name("displaybench")
            .web(new InetSocketAddress("127.0.0.1", 0)).start())
        {
            final InetSocketAddress web = display.webAddresses().getFirst();
            display.setScanout(0, WIDTH, HEIGHT);
            for (final Workload w : Workload.values())
            {
                try (Arena arena = Arena.ofShared())
                {
                    final MemorySegment[] frames = {resource(arena, w.picture(0)), resource(arena, w.picture(1))};
                    for (final int encoding : ENCODINGS)
                    {
                        log(w.label + ", " + encodingName(encoding) + "…");
                        final Row row = measure(display, web, w, frames, encoding, options);
                        rows.add(row);
                        log(null != row.failure() ? "FAILED: " + row.failure() : summary(row));
                    }
                }
            }
        }
        final Instant finished = Instant.now();
        final String markdown = render(options, rows, notes, started, finished, loadStart, MachineInfo.loadAverage());
        System.out.print(markdown);
        System.out.flush();
        if (null != options.out())
        {
            Files.writeString(options.out(), markdown, StandardCharsets.UTF_8);
            log("report written to " + options.out());
        }
        if (null != options.updateDoc())
        {
            updateDoc(options.updateDoc(), markdown);
            log("report spliced into " + options.updateDoc());
        }
        return rows.stream().anyMatch(r -> null != r.failure()) ? 1 : 0;
    }

    /**
     * @return the picture as a guest resource: B,G,R,X bytes off-heap, rows of {@link #WIDTH} pixels.
     */
    private static MemorySegment resource(final Arena arena, final int[] rgb)
    {
        final MemorySegment s = arena.allocate(4L * rgb.length, 64);
        MemorySegment.copy(rgb, 0, s, PIXEL, 0, rgb.length);
        return s;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // One row: a connection, warm-up, measurement

    private static Row measure(final DisplayServer display, final InetSocketAddress web, final Workload w,
        final MemorySegment[] frames, final int encoding, final Options options)
    {
        final FrameLoop loop = new FrameLoop(display, w, frames, options);
        // The whole screen shows the workload's picture before the viewer connects.
        display.updateScanout(0, 0, 0, WIDTH, HEIGHT, frames[0], 0, 4 * WIDTH, PixelFormat.B8G8R8X8);
        try (WsRfbClient client = WsRfbClient.connect(web, 0))
        {
            client.setNoVncPixelFormat();
            client.setEncodings(encoding, WsRfbClient.DESKTOP_SIZE);
            client.requestUpdate(false);
            client.readUpdate();
            if (client.width() != WIDTH || client.height() != HEIGHT)
            {
                throw new IllegalStateException("the viewer sees " + client.width() + "x" + client.height());
            }
            client.requestUpdate(true);
            final Thread worker = Thread.ofPlatform().name("gpu-worker").unstarted(loop);
            final Viewer viewer = new Viewer(client, worker);
            loop.viewer = viewer;
            final Thread reader = Thread.ofPlatform().name("viewer").daemon().start(viewer);
            worker.start();
            worker.join();
            viewer.stopping = true;
            client.close();
            reader.join(5000);
        }
        catch (final Exception e)
        {
            loop.failure = null == loop.failure ? e.toString() : loop.failure;
        }
        return new Row(w, encoding, loop.frames, loop.seconds, loop.latency, loop.call, loop.bytes, loop.wrongArea,
            loop.failure);
    }

    /**
     * The viewer's thread: reads each update to its end, notes when, asks for the next one, wakes the GPU worker.
     */
    private static final class Viewer implements Runnable
    {
        private final WsRfbClient client;
        private final Thread waiter;
        volatile long completed;
        volatile String failure;
        volatile boolean stopping;
        // Written before completed, read after it.
        long doneNanos;
        long area;
        long wireBytes;

        Viewer(final WsRfbClient client, final Thread waiter)
        {
            this.client = client;
            this.waiter = waiter;
        }

        @Override
        public void run()
        {
            try
            {
                while (!stopping)
                {
                    final long a = client.readUpdate();
                    doneNanos = System.nanoTime();
                    area = a;
                    wireBytes = client.wireBytes();
                    client.requestUpdate(true);
                    completed = completed + 1;
                    LockSupport.unpark(waiter);
                }
            }
            catch (final IOException | RuntimeException e)
            {
                if (!stopping)
                {
                    failure = "viewer: " + e;
                    LockSupport.unpark(waiter);
                }
            }
        }
    }

    /**
     * The GPU worker's thread: flushes frames one at a time, each when the viewer has the previous one.
     */
    private static final class FrameLoop implements Runnable
    {
        private final DisplayServer display;
        private final Workload workload;
        private final MemorySegment[] resources;
        private final Options options;
        private final int columns = WIDTH / CELL_WIDTH;
        private final int cells = columns * (HEIGHT / CELL_HEIGHT);
        final Histogram latency = new Histogram(HIGHEST_NANOS, 3);
        final Histogram call = new Histogram(HIGHEST_NANOS, 3);
        volatile Viewer viewer;
        volatile String failure;
        long frames;
        double seconds;
        long bytes;
        long wrongArea;

        FrameLoop(final DisplayServer display, final Workload workload, final MemorySegment[] frames,
            final Options options)
        {
            this.display = display;
            this.workload = workload;
            this.resources = frames;
            this.options = options;
        }

        @Override
        public void run()
        {
            try
            {
                long k = 0;
                k = phase(k, options.warmup().toNanos(), false);
                phase(k, options.duration().toNanos(), true);
            }
            catch (final IllegalStateException e)
            {
                failure = e.getMessage();
            }
            catch (final RuntimeException e)
            {
                failure = e.toString();
            }
        }

        /**
         * Flushes frames from number {@code first} on for {@code nanos} (at least two frames).
         *
         * @return the next frame's number.
         */
        private long phase(final long first, final long nanos, final boolean measured)
        {
            final Viewer v = viewer;
            final long start = System.nanoTime();
            long k = first;
            long lastBytes = v.wireBytes;
            long lastDone = start;
            long count = 0;
            while (count < 2 || System.nanoTime() - start < nanos)
            {
                final long t0 = flush(k);
                final long t1 = System.nanoTime();
                k++;
                awaitFrame(v, k);
                final long done = v.doneNanos;
                if (measured)
                {
                    latency.recordValue(Math.min(HIGHEST_NANOS, done - t0));
                    call.recordValue(Math.min(HIGHEST_NANOS, t1 - t0));
                    bytes += v.wireBytes - lastBytes;
                    if (v.area != (long)workload.width * workload.height)
                    {
                        wrongArea++;
                    }
                }
                lastBytes = v.wireBytes;
                lastDone = done;
                count++;
            }
            if (measured)
            {
                frames = count;
                seconds = (lastDone - start) / 1e9;
            }
            return k;
        }

        /**
         * Calls updateScanout for frame {@code k} as GpuDevice does on RESOURCE_FLUSH of a B8G8R8X8 resource.
         *
         * @return when the call began.
         */
        private long flush(final long k)
        {
            final int x;
            final int y;
            final MemorySegment resource;
            if (workload == Workload.CELL)
            {
                // Typing: cell after cell along the rows; the next lap shows the other text.
                final int cell = (int)(k % cells);
                x = cell % columns * CELL_WIDTH;
                y = cell / columns * CELL_HEIGHT;
                resource = resources[(int)(k / cells % 2)];
            }
            else
            {
                x = 0;
                y = 0;
                resource = resources[(int)(k % 2)];
            }
            final int stride = 4 * WIDTH;
            final long t0 = System.nanoTime();
            display.updateScanout(0, x, y, workload.width, workload.height, resource, (long)y * stride + 4L * x,
                stride, PixelFormat.B8G8R8X8);
            return t0;
        }

        private static void awaitFrame(final Viewer v, final long k)
        {
            final long deadline = System.nanoTime() + TIMEOUT_NANOS;
            while (v.completed < k)
            {
                if (null != v.failure)
                {
                    throw new IllegalStateException(v.failure);
                }
                if (System.nanoTime() - deadline > 0)
                {
                    throw new IllegalStateException("no FramebufferUpdate within " + TIMEOUT_NANOS / 1_000_000_000
                        + " s of frame " + k);
                }
                LockSupport.parkNanos(v, 1_000_000);
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Report

    static String encodingName(final int encoding)
    {
        return switch (encoding)
        {
            case WsRfbClient.RAW -> "Raw";
            case WsRfbClient.ZLIB -> "Zlib";
            case WsRfbClient.ZRLE -> "ZRLE";
            default -> "encoding " + encoding;
        };
    }

    private static String summary(final Row r)
    {
        return String.format(Locale.ROOT, "%d frames, %s frames/s, latency p50 %s µs p99 %s µs, %s bytes/frame"
                + " (%.3f of raw)", r.frames(), perSecond(r.framesPerSecond()), micros(r.latency(), 50),
            micros(r.latency(), 99), grouped(Math.round(r.bytesPerFrame())), r.ratioToRaw());
    }

    private static String micros(final Histogram h, final double percentile)
    {
        if (h.getTotalCount() == 0)
        {
            return "–";
        }
        final double us = h.getValueAtPercentile(percentile) / 1000.0;
        return us >= 100 ? grouped(Math.round(us)) : String.format(Locale.ROOT, "%.1f", us);
    }

    private static String perSecond(final double v)
    {
        return v >= 100 ? grouped(Math.round(v)) : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String grouped(final long v)
    {
        return String.format(Locale.ROOT, "%,d", v);
    }

    static String render(final Options options, final List<Row> rows, final List<String> notes,
        final Instant started, final Instant finished, final String loadStart, final String loadEnd)
    {
        final StringBuilder md = new StringBuilder();
        md.append(BEGIN_MARKER).append('\n');
        md.append("<!-- Generated by DisplayBench (scripts/bench.sh); rerun it rather than editing by hand. -->\n\n");
        if (options.quick())
        {
            md.append("> **Quick validation run** (short warm-up and measurement): the figures show that the tool"
                + " works, they are not measurements.\n\n");
        }
        else if (options.shortened())
        {
            md.append("> **Shortened run** (shorter warm-up or measurement than the defaults): indicative only.\n\n");
        }
        md.append("#### Machine and run\n\n");
        md.append("- CPU: ").append(MachineInfo.cpuModel()).append(", ").append(MachineInfo.onlineCpus())
            .append(" online CPU(s) (").append(Runtime.getRuntime().availableProcessors())
            .append(" available to the JVM); ").append(System.getProperty("os.name")).append(' ')
            .append(System.getProperty("os.version")).append('\n');
        md.append("- JDK: ").append(System.getProperty("java.vm.vendor")).append(' ')
            .append(System.getProperty("java.runtime.name")).append(' ')
            .append(System.getProperty("java.runtime.version")).append('\n');
        md.append("- Run: ").append(DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(started.atOffset(ZoneOffset.UTC)
                .withNano(0))).append(" UTC, ")
            .append(Math.round((finished.toEpochMilli() - started.toEpochMilli()) / 1000.0)).append(" s; ")
            .append(seconds(options.warmup())).append(" s warm-up + ").append(seconds(options.duration()))
            .append(" s measured per row, a new WebSocket connection per row; load average (1/5/15 min) ")
            .append(loadStart).append(" at start, ").append(loadEnd).append(" at the end\n");
        md.append("- Set-up: `DisplayServer` and viewer in one JVM, WebSocket on 127.0.0.1; the viewer speaks RFB 3.8"
            + " with noVNC's pixel format (32 bits, depth 24, R,G,B,X in memory) and announces one encoding plus"
            + " DesktopSize; server zlib level 1 (Zlib and ZRLE); a 1920×1080 B8G8R8X8 scanout updated from an"
            + " off-heap resource\n\n");
        md.append("#### Frame latency and bytes per frame (one frame in flight)\n\n");
        md.append("| Workload | Encoding | Frames | Frames/s | Latency p50 µs | Latency p99 µs | updateScanout p50 µs"
            + " | Bytes/frame on the wire | ÷ raw pixel bytes |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (final Row r : rows)
        {
            md.append("| ").append(r.workload().label).append(" | ").append(encodingName(r.encoding())).append(" | ");
            if (null != r.failure() || r.frames() == 0)
            {
                md.append("failed | | | | | | |\n");
                continue;
            }
            md.append(grouped(r.frames())).append(" | ")
                .append(perSecond(r.framesPerSecond())).append(" | ")
                .append(micros(r.latency(), 50)).append(" | ").append(micros(r.latency(), 99)).append(" | ")
                .append(micros(r.call(), 50)).append(" | ").append(grouped(Math.round(r.bytesPerFrame())))
                .append(" | ").append(String.format(Locale.ROOT, "%.3f", r.ratioToRaw())).append(" |\n");
        }
        final List<String> all = new ArrayList<>(notes);
        for (final Row r : rows)
        {
            if (null != r.failure())
            {
                all.add("**Failed:** " + r.workload().label + ", " + encodingName(r.encoding()) + ": " + r.failure());
            }
            else if (r.wrongArea() > 0)
            {
                all.add(r.workload().label + ", " + encodingName(r.encoding()) + ": " + r.wrongArea() + " update(s)"
                    + " did not cover exactly the flushed rectangle.");
            }
        }
        if (!all.isEmpty())
        {
            md.append("\n#### Notes from this run\n\n");
            all.forEach(n -> md.append("- ").append(n).append('\n'));
        }
        md.append('\n').append(END_MARKER).append('\n');
        return md.toString();
    }

    private static String seconds(final Duration d)
    {
        final double s = d.toMillis() / 1000.0;
        return s == Math.rint(s) ? Long.toString((long)s) : String.format(Locale.ROOT, "%.1f", s);
    }

    /**
     * Replaces the text between the markers (inclusive) in {@code doc}, or appends the report when they are missing.
     */
    static void updateDoc(final Path doc, final String markdown) throws IOException
    {
        MarkdownSplice.splice(doc, BEGIN_MARKER, END_MARKER, markdown);
    }

    private static void log(final String message)
    {
        System.err.println("[displaybench " + LocalTime.now().withNano(0) + "] " + message);
    }
}
