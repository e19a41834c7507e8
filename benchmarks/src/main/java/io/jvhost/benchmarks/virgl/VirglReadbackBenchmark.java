package io.jvhost.benchmarks.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import io.jvhost.os.Epoll;
import io.jvhost.os.LibC;
import io.jvhost.virgl.Box;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglRenderer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The 3D display path's cost per frame: reading a 1920x1080 B8G8R8X8 render target back into a host buffer with
 * {@code virgl_renderer_transfer_read_iov} (what a RESOURCE_FLUSH of a 3D scanout costs before the pixels go to a
 * display), against a {@code MemorySegment.copy} of the same 8.3 MB in the same run. virglrenderer renders on
 * whatever EGL gives it (Mesa's llvmpipe without a GPU: then the readback is a CPU copy out of llvmpipe's texture).
 * <p>
 * One thread: virglrenderer must be called from the thread that initialised it, which for a thread-scoped state
 * is the benchmark thread (the binding would refuse any other).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Threads(1)
@State(Scope.Thread)
public class VirglReadbackBenchmark
{
    static final int WIDTH = 1920;
    static final int HEIGHT = 1080;
    static final int STRIDE = WIDTH * 4;
    static final long FRAME_BYTES = (long)STRIDE * HEIGHT;

    private Arena arena;
    private VirglRenderer renderer;
    private MemorySegment host;
    private MemorySegment source;
    private MemorySegment copy;
    private Box box;
    private volatile long lastFence;

    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        arena = Arena.ofShared();
        renderer = VirglRenderer.init(VirglFlags.SURFACELESS_EGL, fence -> lastFence = fence);
        renderer.contextCreate(1, "readback-bench");
        renderer.resourceCreate(new ResourceCreateArgs(arena).set2d(1, ResourceCreateArgs.TARGET_TEXTURE_2D,
            ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM,
            ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT, WIDTH, HEIGHT));
        renderer.ctxAttachResource(1, 1);
        final VirglCommandStream stream = new VirglCommandStream(arena, 32)
            .clearResource(1, 1, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1.0f, 1.0f);
        check(renderer.submitCmd(stream.segment(), 1, stream.dwords()), "submit_cmd");
        check(renderer.createFence(1, 0), "create_fence");
        awaitFence(1);

        host = arena.allocate(FRAME_BYTES, 64);
        source = arena.allocate(FRAME_BYTES, 64);
        copy = arena.allocate(FRAME_BYTES, 64);
        source.fill((byte)0x5a);
        box = new Box(arena).set(0, 0, WIDTH, HEIGHT);
        check(renderer.readback(1, box, STRIDE, host), "readback");
        final int pixel = host.get(ValueLayout.JAVA_INT, FRAME_BYTES - 4);
        if (0xff4080ff != pixel)
        {
            throw new IllegalStateException("last pixel reads 0x" + Integer.toHexString(pixel)
                + ", not the clear colour's bytes ff 80 40 ff");
        }
    }

    private void awaitFence(final long id) throws Exception
    {
        try (Epoll epoll = Epoll.create(1))
        {
            epoll.add(renderer.pollFd(), LibC.EPOLLIN, 1);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            renderer.poll();
            while (lastFence < id)
            {
                if (System.nanoTime() > deadline)
                {
                    throw new IllegalStateException("fence " + id + " did not signal in 30 s");
                }
                epoll.await(1000);
                renderer.poll();
            }
        }
    }

    private static void check(final int code, final String call)
    {
        if (0 != code)
        {
            throw new IllegalStateException(call + " returned " + code);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        if (null != renderer)
        {
            renderer.close();
        }
        arena.close();
    }

    /** transfer_read_iov of the whole frame into one host buffer. */
    @Benchmark
    public int readbackFrame()
    {
        return renderer.readback(1, box, STRIDE, host);
    }

    /** The same bytes copied by the JVM, memory to memory. */
    @Benchmark
    public MemorySegment baselineMemorySegmentCopy()
    {
        MemorySegment.copy(source, 0, copy, 0, FRAME_BYTES);
        return copy;
    }
}
