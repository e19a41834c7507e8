package io.jvhost.benchmarks;

import java.util.concurrent.TimeUnit;

import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.InvalidChainException;
import io.jvhost.virtqueue.QueueBrokenException;
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
 * One request's ring work on the device side: pop (walk and validate the chain) and push used. The driver side
 * (add, publish, poll used) runs in the same op, so the figure is a full in-process round trip minus any I/O.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class ChainWalkBenchmark
{
    @Param({"1", "4", "16"})
    int descriptors;

    @Param({"false", "true"})
    boolean indirect;

    private RingFixture ring;
    private final DescriptorChain chain = new DescriptorChain(256);
    private long[] gpas;
    private int[] lengths;

    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        ring = new RingFixture(256, true);
        gpas = new long[descriptors];
        lengths = new int[descriptors];
        for (int i = 0; i < descriptors; i++)
        {
            gpas[i] = RingFixture.DATA_BASE + i * 4096L;
            lengths[i] = 512;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        ring.close();
    }

    @Benchmark
    public long popAndPush() throws InvalidChainException, QueueBrokenException
    {
        final int out = Math.max(1, descriptors / 2);
        final int head = indirect
            ? ring.driver.addIndirect(RingFixture.DATA_BASE - 8192, gpas, lengths, out, descriptors - out)
            : ring.driver.add(gpas, lengths, out, descriptors - out);
        ring.driver.publish();
        if (!ring.device.pop(chain))
        {
            throw new IllegalStateException("nothing to pop after publishing head " + head);
        }
        ring.device.pushUsed(chain.head(), 0);
        ring.device.needsNotification();
        return ring.driver.pollUsed();
    }
}
