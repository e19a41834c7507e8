package io.jvhost.benchmarks.gpu;

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
 * What a guest's resources cost the device ({@link io.jvhost.device.gpu.GpuDevice} on a mock ring, {@link MockGpu}):
 * {@code createAndUnref} is RESOURCE_CREATE_2D and RESOURCE_UNREF of one resource as one batch (a cursor-sized
 * 64×64 and a 1024×768 framebuffer), {@code resetWith65536Resources} the device reset (driver unbind, reboot) of a
 * guest holding {@value #RESOURCES} 16×16 resources, the most it may hold: the time the device lock is held.
 */
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class GpuResourceBenchmark
{
    static final int RESOURCES = 65536;
    static final int SMALL = 16;

    /**
     * The device with a 64×64 resource 1 shown; resources of the parameter's size come and go as id 2.
     */
    @State(Scope.Thread)
    public static class Churn
    {
        @Param({"64x64", "1024x768"})
        String size;

        MockGpu gpu;
        int width;
        int height;

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            final String[] wh = size.split("x");
            width = Integer.parseInt(wh[0]);
            height = Integer.parseInt(wh[1]);
            gpu = new MockGpu(64, 64, MockGpu.Display.DISCARD, MockGpu.Backing.CONTIGUOUS);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            gpu.close();
        }
    }

    /**
     * A device holding {@value #RESOURCES} resources before each reset.
     */
    @State(Scope.Thread)
    public static class Full
    {
        MockGpu gpu;

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            gpu = new MockGpu(64, 64, MockGpu.Display.DISCARD, MockGpu.Backing.CONTIGUOUS);
        }

        @Setup(Level.Invocation)
        public void fill()
        {
            gpu.resetDevice();
            gpu.createResources(1, RESOURCES, SMALL, SMALL);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            gpu.close();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Warmup(iterations = 5, time = 1)
    @Measurement(iterations = 5, time = 1)
    public int createAndUnref(final Churn c)
    {
        return c.gpu.createAndUnref(2, c.width, c.height);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 5)
    @Measurement(iterations = 5)
    public int resetWith65536Resources(final Full f)
    {
        f.gpu.resetDevice();
        return f.gpu.resourceCount();
    }
}
