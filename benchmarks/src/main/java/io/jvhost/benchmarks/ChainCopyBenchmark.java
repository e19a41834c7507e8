package io.jvhost.benchmarks;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;
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
 * ChainReader/ChainWriter copies over a chain of four readable then four writable buffers, against a plain
 * MemorySegment.copy of the same bytes as the baseline in the same run.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class ChainCopyBenchmark
{
    @Param({"64", "4096", "65536"})
    int bytes;

    private RingFixture ring;
    private final DescriptorChain chain = new DescriptorChain(16);
    private final Arena arena = Arena.ofShared();
    private MemorySegment buffer;
    private MemorySegment source;

    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        ring = new RingFixture(256, true);
        buffer = arena.allocate(bytes, 64);
        source = ring.ram.asSlice(RingFixture.DATA_BASE, bytes);
        final int part = bytes / 4;
        final long[] gpas = new long[8];
        final int[] lengths = new int[8];
        for (int i = 0; i < 8; i++)
        {
            gpas[i] = RingFixture.DATA_BASE + (long)i * part;
            lengths[i] = part;
        }
        ring.driver.add(gpas, lengths, 4, 4);
        ring.driver.publish();
        if (!ring.device.pop(chain))
        {
            throw new IllegalStateException("no chain");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        ring.close();
        arena.close();
    }

    @Benchmark
    public long readWholeChain() throws ChainAccessException
    {
        chain.reader().rewind();
        chain.reader().read(buffer, 0, bytes);
        return chain.reader().position();
    }

    @Benchmark
    public long writeWholeChain() throws ChainAccessException
    {
        chain.writer().rewind();
        chain.writer().write(buffer, 0, bytes);
        return chain.writer().written();
    }

    @Benchmark
    public MemorySegment baselineMemorySegmentCopy()
    {
        MemorySegment.copy(source, 0, buffer, 0, bytes);
        return buffer;
    }
}
