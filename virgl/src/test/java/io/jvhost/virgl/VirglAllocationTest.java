package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The per-request calls a 3D device makes (submit_cmd, create_fence, poll with its fence callback,
 * transfer_read/write through the attached backing, the display's readback into a host buffer) allocate nothing
 * in steady state, measured on the renderer's thread.
 */
@Timeout(120)
class VirglAllocationTest
{
    private static final int ITERATIONS = 300;
    private static final int W = 64;
    private static final int H = 32;
    private static final int STRIDE = W * 4;

    @Test
    void submitFenceTransferAndPollAllocateNothingInSteadyState() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);

        try (VirglThread thread = new VirglThread("virgl-alloc"); Arena arena = Arena.ofShared();
            Fences fences = new Fences())
        {
            final VirglRenderer renderer = VirglEnvironment.initOrSkip(thread, VirglFlags.SURFACELESS_EGL, fences);
            final MemorySegment backing = arena.allocate((long)STRIDE * H, 64);
            final MemorySegment host = arena.allocate((long)STRIDE * H, 64);
            final Box box = new Box(arena).set(0, 0, W, H);
            final VirglCommandStream setup = new VirglCommandStream(arena, 32);
            final VirglCommandStream clear = new VirglCommandStream(arena, 32);
            final long[] fence = {0};
            final long allocated = thread.call(() ->
            {
                try
                {
                    renderer.contextCreate(1, "alloc");
                    renderer.resourceCreate(new ResourceCreateArgs(arena).set2d(1,
                        ResourceCreateArgs.TARGET_TEXTURE_2D, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM,
                        ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT, W, H));
                    renderer.resourceAttachIov(1, new IoVecArray(arena, 1).single(backing));
                    renderer.ctxAttachResource(1, 1);
                    setup.createSurface(1, 1, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0, 0, 0);
                    check(renderer.submitCmd(setup.segment(), 1, setup.dwords()), "surface");
                    clear.setFramebufferState(1, 0).clear(VirglCommandStream.CLEAR_COLOR0, 0.25f, 0.5f, 1.0f, 1.0f,
                        1.0, 0);

                    // Warm-up: the cycles, and the fence wait's epoll loop often enough for the JIT to compile it
                    // (a fence signals after one or two turns of it, too few to get there by cycling alone).
                    cycles(renderer, fences, clear, box, host, fence);
                    fences.spin(renderer, 20_000);
                    cycles(renderer, fences, clear, box, host, fence);
                    // Steady state is after the JIT: on a busy machine C2 may still be compiling the fence wait's
                    // path after the warm-up, so up to ten rounds are measured and the best one counts. Were any
                    // part of a cycle to allocate for good, every round would show it.
                    long best = Long.MAX_VALUE;
                    for (int round = 0; round < 10 && best >= 4096; round++)
                    {
                        final long before = threads.getCurrentThreadAllocatedBytes();
                        cycles(renderer, fences, clear, box, host, fence);
                        best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
                    }
                    return best;
                }
                finally
                {
                    renderer.close();
                }
            });
            assertThat(fences.last).isEqualTo(fence[0]);
            assertThat(allocated).as("bytes allocated by %d submit+fence+poll+transfer cycles in the best of up to ten rounds", ITERATIONS)
                .isLessThan(4096);
        }
    }

    private static void cycles(final VirglRenderer renderer, final Fences fences, final VirglCommandStream clear,
        final Box box, final MemorySegment host, final long[] fence) throws Exception
    {
        for (int i = 0; i < ITERATIONS; i++)
        {
            check(renderer.submitCmd(clear.segment(), 1, clear.dwords()), "submit");
            final long id = ++fence[0];
            check(renderer.createFence(id, 0), "fence");
            if (!fences.awaitFence(renderer, id, 10_000))
            {
                throw new AssertionError("fence " + id + " did not signal");
            }
            check(renderer.transferRead(1, 0, 0, STRIDE, 0, box, 0, null), "read");
            check(renderer.transferWrite(1, 0, 0, STRIDE, 0, box, 0, null), "write");
            check(renderer.readback(1, box, STRIDE, host), "readback");
        }
    }

    private static void check(final int code, final String what)
    {
        if (0 != code)
        {
            throw new AssertionError(what + " returned " + code);
        }
    }
}
