package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.device.gpu.GpuHarness.Resp;
import io.jvhost.memory.GuestMemory;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Per-context ring fences (VIRTIO_GPU_F_CONTEXT_INIT, FLAG_INFO_RING_IDX) through the control queue, with a scripted
 * renderer in virglrenderer's place so the test decides when each ring's fence signals: rings are independent
 * (ring 1 is answered while ring 0 still waits, and the queue is not held), one ring's answers stay in order, the
 * ring fields are checked before the command runs, a destroyed context's waiting requests are answered, a reset
 * drops them, and context-0 fences still hold the queue as before.
 */
class GpuRingFenceTest
{
    private static final long CONTEXT_INIT = 1L << F_CONTEXT_INIT;

    /** The renderer: contexts are a set, SUBMIT_3D succeeds, fences signal when the test says. */
    static final class ScriptedRenderer implements Renderer
    {
        final RingFences rings;
        final Set<Integer> contexts = new HashSet<>();
        /** (ctx, ring, seq) of every context fence created. */
        final List<long[]> created = new ArrayList<>();
        /** Signals to deliver at the next poll, as virglrenderer's write_context_fence would. */
        final List<long[]> toSignal = new ArrayList<>();
        long ctx0Fence;
        long ctx0Signalled;
        int submits;

        ScriptedRenderer(final RingFences rings)
        {
            this.rings = rings;
        }

        /** Signals (at the next poll) the last fence created on this ring. */
        void signalLast(final int ctx, final int ring)
        {
            for (int i = created.size() - 1; i >= 0; i--)
            {
                final long[] c = created.get(i);
                if (c[0] == ctx && c[1] == ring)
                {
                    toSignal.add(c);
                    return;
                }
            }
            throw new AssertionError("no fence on " + ctx + "/" + ring);
        }

        @Override
        public void pollFences()
        {
            for (final long[] s : toSignal)
            {
                rings.signalled((int)s[0], (int)s[1], s[2]);
            }
            toSignal.clear();
        }

        @Override
        public boolean fenceCompletesLater()
        {
            return true;
        }

        @Override
        public long createFence()
        {
            return ++ctx0Fence;
        }

        @Override
        public boolean fenceDone(final long fence)
        {
            return fence <= ctx0Signalled;
        }

        @Override
        public int createContextFence(final int ctxId, final int ring, final long seq)
        {
            created.add(new long[] {ctxId, ring, seq});
            return Command.Handler.OK;
        }

        @Override
        public boolean hasContext(final int ctxId)
        {
            return contexts.contains(ctxId);
        }

        @Override
        public int ctxCreate(final int ctxId, final long nameLength, final int contextInit,
            final boolean contextInitNegotiated, final MemorySegment request)
        {
            contexts.add(ctxId);
            return Command.Handler.OK;
        }

        @Override
        public int ctxDestroy(final int ctxId)
        {
            contexts.remove(ctxId);
            rings.contextDestroyed(ctxId);
            return Command.Handler.OK;
        }

        @Override
        public int submit3d(final int ctxId, final long size, final ControlRequest request, final int fixed)
        {
            submits++;
            return contexts.contains(ctxId) ? Command.Handler.OK : RESP_ERR_INVALID_CONTEXT_ID;
        }

        @Override
        public int capsetCount()
        {
            return 1;
        }

        @Override
        public Resource resource(final int resourceId)
        {
            return null;
        }

        @Override
        public int resourceCount()
        {
            return 0;
        }

        @Override
        public long hostMemoryUsed()
        {
            return 0;
        }

        @Override
        public int createResource2d(final int resourceId, final int format, final long width, final long height)
        {
            return RESP_ERR_UNSPEC;
        }

        @Override
        public int createBlob(final ControlRequest request, final BackingReader entries, final int resourceId,
            final int blobMem, final long size, final long count)
        {
            return RESP_ERR_UNSPEC;
        }

        @Override
        public void unref(final Resource resource)
        {
        }

        @Override
        public int attachBacking(final ControlRequest request, final BackingReader entries, final int resourceId,
            final long count)
        {
            return RESP_ERR_UNSPEC;
        }

        @Override
        public int detachBacking(final int resourceId)
        {
            return RESP_ERR_UNSPEC;
        }

        @Override
        public int transferToHost2d(final int resourceId, final long x, final long y, final long width,
            final long height, final long offset, final GuestMemory memory)
        {
            return RESP_ERR_UNSPEC;
        }

        @Override
        public void present(final Scanout s, final long left, final long top, final int width, final int height,
            final int ux, final int uy, final GuestMemory memory, final DisplayOutputs out)
        {
        }

        @Override
        public int loadCursor(final Resource resource, final GuestMemory memory, final MemorySegment image)
        {
            return CURSOR_BAD_BLOB;
        }

        @Override
        public void reset()
        {
            contexts.clear();
            rings.reset();
        }
    }

    private GpuHarness h;
    private ScriptedRenderer renderer;

    @BeforeEach
    void setUp() throws Exception
    {
        start(CONTEXT_INIT);
    }

    private void start(final long features) throws Exception
    {
        h = new GpuHarness(GpuOptions.builder().virgl(0xb, 1 << 2).build(), features, (errors, rings) ->
        {
            renderer = new ScriptedRenderer(rings);
            return renderer;
        });
        assertThat(h.call(ctxCreate(1)).type()).isEqualTo(RESP_OK_NODATA);
        assertThat(h.call(ctxCreate(2)).type()).isEqualTo(RESP_OK_NODATA);
    }

    @AfterEach
    void tearDown()
    {
        h.close();
    }

    private static Req ctxCreate(final int ctx)
    {
        return new Req(CMD_CTX_CREATE, 96).u32(HDR_CTX_ID, ctx);
    }

    /** A fenced SUBMIT_3D (empty stream) on a context's ring. */
    private static byte[] onRing(final int ctx, final int ring, final long fenceId)
    {
        return new Req(CMD_SUBMIT_3D, 32).fence(fenceId, ctx).u32(HDR_FLAGS, FLAG_FENCE | FLAG_INFO_RING_IDX)
            .u32(HDR_RING_IDX, ring).array();
    }

    private List<Resp> drain()
    {
        h.serveControl();
        final List<Resp> out = new ArrayList<>();
        Resp r;
        while (null != (r = h.pollControl()))
        {
            out.add(r);
        }
        return out;
    }

    @Test
    void ringOneIsAnsweredWhileRingZeroStillWaitsAndTheQueueGoesOn()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 100));
        h.addControl(HDR_SIZE, onRing(1, 1, 101));
        h.addControl(DISPLAY_INFO_SIZE, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
        final List<Resp> first = drain();
        assertThat(first).as("only the unfenced command behind them").hasSize(1);
        assertThat(first.get(0).type()).isEqualTo(RESP_OK_DISPLAY_INFO);
        assertThat(renderer.created).extracting(c -> c[1]).containsExactly(0L, 1L);

        renderer.signalLast(1, 1);
        final List<Resp> second = drain();
        assertThat(second).as("ring 1 answered, ring 0 (submitted first) still waiting").hasSize(1);
        assertThat(second.get(0).fenceId()).isEqualTo(101);
        assertThat(second.get(0).ringIdx()).isEqualTo(1);
        assertThat(second.get(0).flags()).isEqualTo(FLAG_FENCE | FLAG_INFO_RING_IDX);
        assertThat(second.get(0).ctxId()).isEqualTo(1);

        renderer.signalLast(1, 0);
        final List<Resp> third = drain();
        assertThat(third).hasSize(1);
        assertThat(third.get(0).fenceId()).isEqualTo(100);
        assertThat(third.get(0).ringIdx()).isZero();
    }

    @Test
    void aStoppingControlQueueAnswersEveryRequestWaitingForAFenceAndTheResumedQueueGoesOn()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 100));
        h.addControl(HDR_SIZE, onRing(1, 1, 101));
        // A context-0 fence: held, and the queue waits behind it.
        h.addControl(HDR_SIZE, new Req(CMD_SUBMIT_3D, 32).fence(102, 1).u32(HDR_FLAGS, FLAG_FENCE).array());
        assertThat(drain()).as("all three wait for their fences").isEmpty();

        // The host finishes the work; the VM stops before the worker looked (GET_VRING_BASE on the control ring).
        renderer.signalLast(1, 0);
        renderer.signalLast(1, 1);
        renderer.ctx0Signalled = renderer.ctx0Fence;
        h.control.stop(h.device);
        final List<Resp> answered = new ArrayList<>();
        Resp r;
        while (null != (r = h.pollControl()))
        {
            answered.add(r);
        }
        assertThat(answered).as("every held request is back before the ring's state is reported")
            .extracting(Resp::fenceId).containsExactlyInAnyOrder(100L, 101L, 102L);
        assertThat(answered).extracting(Resp::type).containsOnly(RESP_OK_NODATA);

        // The resumed queue (cont) goes on with the contexts kept.
        h.addControl(HDR_SIZE, onRing(1, 0, 103));
        assertThat(drain()).isEmpty();
        renderer.signalLast(1, 0);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(103L);
    }

    @Test
    void contextsAreIndependentTimelinesToo()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 7));
        h.addControl(HDR_SIZE, onRing(2, 0, 8));
        assertThat(drain()).isEmpty();
        renderer.signalLast(2, 0);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(8L);
        renderer.signalLast(1, 0);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(7L);
    }

    @Test
    void oneRingsAnswersStayInOrderAndOneSignalCoversTheEarlierFences()
    {
        for (int i = 0; i < 5; i++)
        {
            h.addControl(HDR_SIZE, onRing(1, 3, 50 + i));
        }
        h.addControl(HDR_SIZE, onRing(2, 3, 99));
        assertThat(drain()).isEmpty();
        // The third of five signals (merged: virglrenderer may report only the latest).
        renderer.toSignal.add(renderer.created.get(2));
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(50L, 51L, 52L);
        renderer.signalLast(1, 3);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(53L, 54L);
        assertThat(h.device.renderer()).isSameAs(renderer);
        renderer.signalLast(2, 3);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(99L);
    }

    @Test
    void theRingFieldsAreCheckedBeforeTheCommandRuns()
    {
        final int before = renderer.submits;
        assertThat(h.call(HDR_SIZE, onRing(1, 64, 1)).type()).as("ring_idx 64").isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE, onRing(1, 255, 1)).type()).as("ring_idx 255")
            .isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(h.call(HDR_SIZE, onRing(9, 0, 1)).type()).as("unknown context")
            .isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(h.call(HDR_SIZE, onRing(0, 0, 1)).type()).as("context 0").isEqualTo(RESP_ERR_INVALID_CONTEXT_ID);
        assertThat(renderer.submits).as("none of them ran").isEqualTo(before);
        assertThat(renderer.created).isEmpty();
        // A fence on ring 63 is fine.
        h.addControl(HDR_SIZE, onRing(1, 63, 5));
        assertThat(drain()).isEmpty();
        renderer.signalLast(1, 63);
        assertThat(drain()).extracting(Resp::ringIdx).containsExactly(63);
    }

    @Test
    void withoutContextInitNegotiatedTheRingFlagIsRefused() throws Exception
    {
        h.close();
        start(0);
        final Resp r = h.call(HDR_SIZE, onRing(1, 0, 1));
        assertThat(r.type()).isEqualTo(RESP_ERR_INVALID_PARAMETER);
        assertThat(renderer.submits).isZero();
    }

    @Test
    void aFullQueueOfRingFencesWaitsWithoutHoldingTheQueue()
    {
        // Two descriptors a request: as many requests as the ring has room for.
        final int n = GpuHarness.CONTROL_SIZE / 2;
        for (int i = 0; i < n; i++)
        {
            h.addControl(HDR_SIZE, onRing(1, i % 2, i));
        }
        assertThat(drain()).isEmpty();
        assertThat(renderer.created).hasSize(n);
        renderer.signalLast(1, 1);
        assertThat(drain()).as("all of ring 1, in order").extracting(Resp::fenceId)
            .containsExactlyElementsOf(java.util.stream.LongStream.range(0, n).filter(i -> i % 2 == 1).boxed()
                .toList());
        renderer.signalLast(1, 0);
        assertThat(drain()).hasSize(n / 2);
    }

    @Test
    void noMoreRequestsWaitThanTheQueueHolds()
    {
        // A driver cannot have more chains in flight than the queue size; one that reuses heads is bounded here.
        final RingFences rings = new RingFences("test", (queue, chain, type, flags, fenceId, ctxId, ringIdx) -> { });
        final ControlRequest request = new ControlRequest();
        request.chain = new io.jvhost.virtqueue.DescriptorChain(1);
        for (int i = 0; i < 16; i++)
        {
            assertThat(rings.hasRoom(16)).isTrue();
            assertThat(rings.hold(request, 1, 0)).isEqualTo(i + 1);
        }
        assertThat(rings.hasRoom(16)).isFalse();
        assertThat(RingFences.capacity(1 << 20)).isEqualTo(GpuDevice.MAX_QUEUE_SIZE);
        rings.cancel(16);
        assertThat(rings.pending()).isEqualTo(15);
        rings.reset();
        assertThat(rings.pending()).isZero();
    }

    @Test
    void aDestroyedContextsWaitingRequestsAreAnsweredBeforeTheDestroy()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 11));
        h.addControl(HDR_SIZE, onRing(2, 0, 12));
        h.addControl(HDR_SIZE, new Req(CMD_CTX_DESTROY, HDR_SIZE).u32(HDR_CTX_ID, 1).array());
        final List<Resp> answers = drain();
        assertThat(answers).extracting(Resp::type).containsExactly(RESP_OK_NODATA, RESP_OK_NODATA);
        assertThat(answers.get(0).fenceId()).as("context 1's fence first, then the destroy").isEqualTo(11);
        assertThat(answers.get(1).flags() & FLAG_FENCE).as("the destroy").isZero();
        // A late signal for the destroyed context marks nothing; context 2 still waits.
        renderer.signalLast(1, 0);
        assertThat(drain()).isEmpty();
        renderer.signalLast(2, 0);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(12L);
    }

    @Test
    void aFencedDestroyOfTheRingsOwnContextIsAnsweredAtOnce()
    {
        final Resp r = h.call(HDR_SIZE, new Req(CMD_CTX_DESTROY, HDR_SIZE).fence(30, 1)
            .u32(HDR_FLAGS, FLAG_FENCE | FLAG_INFO_RING_IDX).array());
        assertThat(r.type()).isEqualTo(RESP_OK_NODATA);
        assertThat(r.fenceId()).isEqualTo(30);
        assertThat(renderer.created).as("no fence on a context that is gone").isEmpty();
    }

    @Test
    void aResetDropsTheWaitingRequestsAndTheDeviceServesAgain()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 1));
        h.addControl(HDR_SIZE, onRing(1, 1, 2));
        assertThat(drain()).isEmpty();
        h.device.reset();
        renderer.signalLast(1, 0);
        renderer.signalLast(1, 1);
        assertThat(drain()).as("nothing of the old queue is answered").isEmpty();
        assertThat(h.call(ctxCreate(1)).type()).isEqualTo(RESP_OK_NODATA);
        h.addControl(HDR_SIZE, onRing(1, 0, 3));
        assertThat(drain()).isEmpty();
        renderer.signalLast(1, 0);
        assertThat(drain()).extracting(Resp::fenceId).containsExactly(3L);
    }

    @Test
    void aContextZeroFenceStillHoldsTheQueueWhileRingsComplete()
    {
        h.addControl(HDR_SIZE, onRing(1, 0, 20));
        h.addControl(HDR_SIZE, new Req(CMD_SUBMIT_3D, 32).fence(21, 1).array());
        h.addControl(DISPLAY_INFO_SIZE, new Req(CMD_GET_DISPLAY_INFO, HDR_SIZE).array());
        assertThat(drain()).as("the context-0 fence holds the queue").isEmpty();
        renderer.signalLast(1, 0);
        assertThat(drain()).as("the ring is answered while the queue is held").extracting(Resp::fenceId)
            .containsExactly(20L);
        renderer.ctx0Signalled = renderer.ctx0Fence;
        assertThat(drain()).extracting(Resp::type).containsExactly(RESP_OK_NODATA, RESP_OK_DISPLAY_INFO);
    }
}
