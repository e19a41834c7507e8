package io.jvhost.benchmarks.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.gpu.PixelFormat;
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
 * {@link PixelFormat#toBgrx} on rows of 1920 pixels (7680 bytes): B8G8R8X8 is Linux's primary-plane format and a
 * plain copy; R8G8B8A8 swaps bytes 0 and 2 of every pixel in a Java loop. {@code row} converts one row that stays in
 * L1 (the conversion's own cost); {@code frame} converts the 1080 rows of a 1080p frame (8.3 MB, beyond the last-level
 * cache: memory bandwidth). Run with {@code -prof gc}: both allocate nothing.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class PixelFormatBenchmark
{
    static final int WIDTH = 1920;
    static final int HEIGHT = 1080;
    static final int ROW_BYTES = WIDTH * PixelFormat.BYTES_PER_PIXEL;

    @Param({"B8G8R8X8", "R8G8B8A8"})
    PixelFormat format;

    private Arena arena;
    private MemorySegment src;
    private MemorySegment dst;

    @Setup(Level.Trial)
    public void setUp()
    {
        arena = Arena.ofShared();
        src = arena.allocate((long)ROW_BYTES * HEIGHT, 64);
        dst = arena.allocate((long)ROW_BYTES * HEIGHT, 64);
        for (long i = 0; i < src.byteSize(); i += 4)
        {
            src.set(ValueLayout.JAVA_INT, i, (int)(i * 0x9E3779B1L));
        }
        dst.fill((byte)0);
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        arena.close();
    }

    @Benchmark
    public MemorySegment row()
    {
        format.toBgrx(src, 0, dst, 0, WIDTH);
        return dst;
    }

    @Benchmark
    public MemorySegment frame()
    {
        for (int y = 0; y < HEIGHT; y++)
        {
            final long o = (long)y * ROW_BYTES;
            format.toBgrx(src, o, dst, o, WIDTH);
        }
        return dst;
    }
}
