package io.jvhost.benchmarks.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One 1080p full-frame TRANSFER_TO_HOST_2D + RESOURCE_FLUSH through {@link io.jvhost.device.gpu.GpuDevice} on a mock
 * ring ({@link MockGpu}): both commands in indirect tables, one publish, one serve, both reaped. The transfer copies
 * the guest's backing into the host image; with {@code display=COPY} the flush also converts the image into a
 * display surface (what jvhost's QEMU display does into its shadow framebuffer before sending), with {@code DISCARD}
 * the display drops it. Baseline in the same run: one {@link MemorySegment#copy} of a frame, so {@code COPY} costs
 * at least two of those. {@code transferAndFlushCell} does the same for a 64×16 cell. Run with {@code -prof gc}: zero
 * bytes allocated per op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class GpuTransferFlushBenchmark
{
    static final int WIDTH = 1920;
    static final int HEIGHT = 1080;
    static final long FRAME_BYTES = (long)WIDTH * HEIGHT * 4;
    static final int CELL_WIDTH = 64;
    static final int CELL_HEIGHT = 16;
    static final int CELL_COLUMNS = WIDTH / CELL_WIDTH;
    static final int CELLS = CELL_COLUMNS * (HEIGHT / CELL_HEIGHT);

    /**
     * The device on its mock ring, with a 1080p resource shown on scanout 0.
     */
    @State(Scope.Thread)
    public static class Gpu
    {
        @Param({"PAGES", "CONTIGUOUS"})
        MockGpu.Backing backing;

        @Param({"COPY", "DISCARD"})
        MockGpu.Display display;

        MockGpu gpu;
        int cell;

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            gpu = new MockGpu(WIDTH, HEIGHT, display, backing);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            gpu.close();
        }
    }

    /**
     * Two off-heap frames for the memcpy baseline.
     */
    @State(Scope.Thread)
    public static class Frames
    {
        Arena arena;
        MemorySegment src;
        MemorySegment dst;

        @Setup(Level.Trial)
        public void setUp()
        {
            arena = Arena.ofShared();
            src = arena.allocate(FRAME_BYTES, 4096);
            dst = arena.allocate(FRAME_BYTES, 4096);
            src.fill((byte)7);
            dst.fill((byte)0);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            arena.close();
        }
    }

    @Benchmark
    public int transferAndFlush(final Gpu g)
    {
        g.gpu.setRect(0, 0, WIDTH, HEIGHT);
        return g.gpu.update();
    }

    /**
     * A 64×16 cell at a moving position: the device's per-command overhead. Its ops are short enough for
     * {@code -prof gc}'s bytes per op to be exact (a millisecond-long frame op also gets JMH's own background
     * allocation divided by very few ops).
     */
    @Benchmark
    public int transferAndFlushCell(final Gpu g)
    {
        final int c = g.cell = (g.cell + 337) % CELLS;
        g.gpu.setRect(c % CELL_COLUMNS * CELL_WIDTH, c / CELL_COLUMNS * CELL_HEIGHT, CELL_WIDTH, CELL_HEIGHT);
        return g.gpu.update();
    }

    @Benchmark
    public MemorySegment baselineMemcpyFrame(final Frames f)
    {
        MemorySegment.copy(f.src, 0, f.dst, 0, FRAME_BYTES);
        return f.dst;
    }
}
