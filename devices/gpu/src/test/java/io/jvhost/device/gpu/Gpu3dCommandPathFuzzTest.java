package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.MemoryBudget;
import io.jvhost.device.fuzz.ErrorLog;
import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virgl.VirglFlags;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the GPU's 3D command path, everything but virglrenderer's own C code: the inputs of
 * {@link Gpu3dCommandFuzzTest} (same format, {@link Gpu3dRequests}: its corpus and seeds carry over) against a
 * GpuDevice whose {@link VirglRendererAdapter} runs on {@link RecordingVirgl}, a fake behind the same calls that
 * keeps virglrenderer's state and answers. So every control command of 3D mode (CTX_CREATE/DESTROY, CTX_ATTACH/
 * DETACH_RESOURCE, RESOURCE_CREATE_3D, TRANSFER_TO/FROM_HOST_3D, SUBMIT_3D, GET_CAPSET_INFO/GET_CAPSET, fences on
 * context 0 and on context rings with VIRTIO_GPU_F_CONTEXT_INIT negotiated, capsets virgl, virgl2 and venus, the 2D
 * commands in between) is decoded and checked by jvhost and carried out against the fake, thousands of times a
 * second (no renderer reset, no GL).
 * <p>
 * Beyond what {@link Gpu3dCommandFuzzTest} checks (one well-formed response per request, its fence fields echoed,
 * no guest byte written outside the response buffers and the backings, no error logged):
 * <ul>
 *   <li>the renderer never gets a call the device should have refused ({@link RecordingVirgl#violation}: unknown or
 *       duplicate ids, rings a context does not have, wrapped boxes, offsets beyond the backing, iovecs outside guest
 *       memory, fence numbers out of sequence);</li>
 *   <li>every stream SUBMIT_3D hands over is the guest's: the bytes after the 32-byte head of a SUBMIT_3D request of
 *       that context, as long as its size field says (in the order sent), and never more SUBMIT_3D are answered
 *       OK_NODATA than streams were handed over;</li>
 *   <li>fenced requests answered OK_NODATA come after their fence: per context ring (and on context 0) in the order
 *       they were sent, never more of them than the renderer had signalled (or dropped with the context) by then, and
 *       once everything is answered no fence is left pending;</li>
 *   <li>the device's tables match the renderer's (resources, contexts), its host memory budget holds exactly what its
 *       resources are counted as, and a reset brings resources, contexts and budget back to zero.</li>
 * </ul>
 */
class Gpu3dCommandPathFuzzTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long MAX_HOST_MEM = 64L << 20;
    private static final int W = 64;
    private static final int H = 32;
    private static final int SUBMIT_HEAD = 32;
    private static final QueueFuzzer CONTROL = new QueueFuzzer();
    private static final ExecutorService WORKER = Gpu3dRequests.rendererThread("gpu3d-commands fuzz worker");
    private static final ErrorLog ERRORS = ErrorLog.install();
    private static final MemoryBudget BUDGET = new MemoryBudget("fuzz3dcmd", MAX_HOST_MEM);
    private static GpuDevice gpu;
    private static VirglRendererAdapter adapter;
    private static RecordingVirgl virgl;

    /** A request sent in this input. */
    private static final class Sent
    {
        final byte[] bytes;
        final long seq;

        Sent(final byte[] bytes, final long seq)
        {
            this.bytes = bytes;
            this.seq = seq;
        }

        int u32(final int offset)
        {
            return bytes.length >= offset + 4 ? MemorySegment.ofArray(bytes).get(U32, offset) : 0;
        }

        boolean has(final int flag)
        {
            return bytes.length >= HDR_SIZE && 0 != (u32(HDR_FLAGS) & flag);
        }

        int ring()
        {
            return bytes[HDR_RING_IDX] & 0xFF;
        }
    }

    /** What one input has sent and seen answered. */
    private static final class Input
    {
        final Sent[] byHead = new Sent[QueueFuzzer.SIZE];
        final ArrayDeque<Sent> submits = new ArrayDeque<>();
        final Map<Long, long[]> ringAnswers = new HashMap<>();
        long streamsHandedOver;
        long submitsAnsweredOk;
        long ctx0Answers;
        long lastCtx0Seq = -1;
        long seq;
    }

    @FuzzTest(maxDuration = "30s")
    void everyRequestAnsweredOnceAndTheRendererGetsOnlyCheckedCalls(final FuzzedDataProvider data) throws Exception
    {
        Gpu3dRequests.runOn(WORKER, () -> run(data));
    }

    private static void run(final FuzzedDataProvider data)
    {
        CONTROL.reset(CONTROL_QUEUE, 1L << F_VIRGL | 1L << F_CONTEXT_INIT);
        if (null == gpu)
        {
            final GpuOptions options = GpuOptions.builder().virgl(VirglFlags.SURFACELESS_EGL | VirglFlags.VENUS,
                1 << 1 | 1 << 2 | 1 << 4).maxHostMem(MAX_HOST_MEM).build();
            final MemorySegment ram = CONTROL.memory().region(0).bytes();
            gpu = new GpuDevice("fuzz3dcmd", options, BUDGET, () -> 0L, (errors, rings) -> new VirglRendererAdapter(
                "fuzz3dcmd", options.virglFlags(), options.capsets(), BUDGET, errors, rings,
                (flags, fences) -> virgl = new RecordingVirgl(flags, fences, ram)));
            adapter = (VirglRendererAdapter)gpu.renderer();
            gpu.attach(new DeviceContext()
            {
                @Override
                public void wake(final int queue)
                {
                    // Served until answered anyway.
                }
            });
        }
        gpu.reset();
        assertThat(adapter.resourceCount()).as("resources after a reset").isZero();
        assertThat(adapter.contextCount()).as("contexts after a reset").isZero();
        assertThat(adapter.hostMemoryUsed()).as("resource host memory after a reset").isZero();
        assertThat(BUDGET.used()).as("host memory budget in use after a reset").isZero();
        ERRORS.clear();
        final Input input = new Input();
        prelude(input);
        assertThat(virgl.contextCount()).as("renderer contexts after the prelude (it was reset)").isEqualTo(1);
        assertThat(virgl.resourceCount()).as("renderer resources after the prelude (it was reset)").isEqualTo(2);

        while (data.remainingBytes() > 0)
        {
            final byte[] request = Gpu3dRequests.request(data);
            if (request.length >= 4 && MemorySegment.ofArray(request).get(U32, HDR_TYPE) == CMD_RESOURCE_ATTACH_BACKING)
            {
                CONTROL.allowAllWrites();
            }
            final int head = CONTROL.add(data, request, data.consumeBoolean() ? 24 : data.consumeInt(0, 4200));
            if (head >= 0)
            {
                sent(input, head, request);
            }
            if (data.consumeInt(0, 3) != 0)
            {
                serve(input);
            }
        }
        serve(input);
        assertThat(virgl.pendingFences()).as("fences pending once every request is answered").isZero();
        assertThat(adapter.resourceCount()).as("resources, device and renderer").isEqualTo(virgl.resourceCount());
        assertThat(adapter.contextCount()).as("contexts, device and renderer").isEqualTo(virgl.contextCount());
        for (final int ctx : virgl.contextIds())
        {
            assertThat(adapter.hasContext(ctx)).as("renderer context %d known to the device", ctx).isTrue();
        }
        assertThat(adapter.hostMemoryUsed()).as("renderer host memory").isLessThanOrEqualTo(MAX_HOST_MEM);
        assertThat(BUDGET.used()).as("budget in use: the resources' estimates").isEqualTo(adapter.hostMemoryUsed());
        assertThat(ERRORS.messages()).as("errors logged").isEmpty();
        CONTROL.finish();
    }

    private static void sent(final Input input, final int head, final byte[] request)
    {
        final Sent s = new Sent(request, input.seq++);
        input.byHead[head] = s;
        if (request.length >= HDR_SIZE && s.u32(HDR_TYPE) == CMD_SUBMIT_3D)
        {
            input.submits.add(s);
        }
    }

    /** Context 1 with render target 1 (64x32, backing attached), 2D resource 2, each answered OK_NODATA. */
    private static void prelude(final Input input)
    {
        final long backing = CONTROL.allocate(W * H * 4, (byte)0x3C);
        CONTROL.allowWrites(backing, W * H * 4);
        for (final byte[] r : Gpu3dRequests.prelude(backing, W, H))
        {
            sent(input, CONTROL.add(r, HDR_SIZE), r);
            final long[] used = serve(input);
            assertThat(used).hasSize(1);
            assertThat(CONTROL.written((int)(used[0] >>> 32), HDR_SIZE)).as("prelude response")
                .startsWith(0x00, 0x11, 0, 0);
        }
    }

    /** Serves the control queue until every request is answered, checking each serve. */
    private static long[] serve(final Input input)
    {
        long[] all = new long[0];
        final long deadline = System.nanoTime() + 10_000_000_000L;
        do
        {
            final long[] used = CONTROL.serve(gpu);
            assertThat(virgl.violation()).as("a call the device should have refused").isNull();
            handedOver(input);
            for (final long u : used)
            {
                answered(input, (int)(u >>> 32), u & 0xFFFF_FFFFL);
            }
            all = Arrays.copyOf(all, all.length + used.length);
            System.arraycopy(used, 0, all, all.length - used.length, used.length);
            if (CONTROL.outstanding() > 0)
            {
                assertThat(System.nanoTime() - deadline).as("%d requests unanswered after 10 s",
                    CONTROL.outstanding()).isNegative();
            }
        }
        while (CONTROL.outstanding() > 0);
        return all;
    }

    /**
     * The streams the renderer got, in order, each the stream of a SUBMIT_3D sent (after those refused before it).
     */
    private static void handedOver(final Input input)
    {
        for (final RecordingVirgl.Submit got : virgl.takeSubmits())
        {
            Sent match = null;
            while (null == match && !input.submits.isEmpty())
            {
                final Sent s = input.submits.poll();
                final long size = Integer.toUnsignedLong(s.u32(SUBMIT_HEAD - 8));
                if (s.bytes.length >= SUBMIT_HEAD && s.u32(HDR_CTX_ID) == got.ctxId() && size == got.stream().length
                    && SUBMIT_HEAD + size <= s.bytes.length && Arrays.equals(s.bytes, SUBMIT_HEAD,
                    SUBMIT_HEAD + (int)size, got.stream(), 0, got.stream().length))
                {
                    match = s;
                }
            }
            assertThat(match).as("a SUBMIT_3D sent whose stream is the %d bytes the renderer got in context %d",
                got.stream().length, got.ctxId()).isNotNull();
            input.streamsHandedOver++;
        }
    }

    private static void answered(final Input input, final int head, final long length)
    {
        if (0 == length)
        {
            return;
        }
        final Sent s = input.byHead[head];
        final MemorySegment response = MemorySegment.ofArray(CONTROL.written(head, length));
        Gpu3dRequests.checkResponse(response, length, s.bytes);
        if (response.get(U32, HDR_TYPE) != RESP_OK_NODATA)
        {
            return;
        }
        final int type = s.u32(HDR_TYPE);
        final int ctx = s.u32(HDR_CTX_ID);
        if (type == CMD_SUBMIT_3D)
        {
            input.submitsAnsweredOk++;
            assertThat(input.submitsAnsweredOk).as("SUBMIT_3D answered OK_NODATA, not more than streams handed over")
                .isLessThanOrEqualTo(input.streamsHandedOver);
        }
        if (!s.has(FLAG_FENCE))
        {
            return;
        }
        if (s.has(FLAG_INFO_RING_IDX))
        {
            if (type == CMD_CTX_DESTROY)
            {
                // Destroyed its own context: nothing left to fence.
                return;
            }
            final long key = Integer.toUnsignedLong(ctx) << 8 | s.ring();
            final long[] seen = input.ringAnswers.computeIfAbsent(key, k -> new long[] {0, -1});
            assertThat(s.seq).as("fenced answers of context %d ring %d in the order sent", ctx, s.ring())
                .isGreaterThan(seen[1]);
            seen[0]++;
            seen[1] = s.seq;
            assertThat(seen[0]).as("fenced answers of context %d ring %d, not more than its fences retired", ctx,
                s.ring()).isLessThanOrEqualTo(virgl.ringRetired(ctx, s.ring()));
        }
        else
        {
            assertThat(s.seq).as("context-0 fenced answers in the order sent").isGreaterThan(input.lastCtx0Seq);
            input.lastCtx0Seq = s.seq;
            input.ctx0Answers++;
            assertThat(input.ctx0Answers).as("context-0 fenced answers, not more than its fences signalled")
                .isLessThanOrEqualTo(virgl.ctx0Signalled());
        }
    }
}
