package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.fuzz.ErrorLog;
import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virgl.VirglFlags;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the GPU's 3D command path: any bytes as control requests (mostly with a 3D command type, the context id of
 * an existing context and the resource ids in use, to get past the first checks) against a GpuDevice in virglrenderer
 * mode on surfaceless EGL, with context 1 holding a 64x32 render target (resource 1, with backing) and a 2D resource
 * 2. CTX_CREATE/DESTROY/ATTACH/DETACH, RESOURCE_CREATE_3D, TRANSFER_TO/FROM_HOST_3D, SUBMIT_3D (its command stream
 * too: virglrenderer's decoder runs), GET_CAPSET_INFO and GET_CAPSET, fenced or not, with the 2D commands in between.
 * <p>
 * Every control request gets exactly one response once its fence has signalled: 0 bytes for a response buffer too
 * small, else an OK or ERR type of its exact size (capset info 40 bytes, a capset at most 4 KiB), the fence flag and
 * id back when the request was fenced; the renderer's host memory stays within the device's limit; nothing is logged
 * as an error (which is how an exception in our decoding or virglrenderer's failure to start shows). QueueFuzzer checks
 * that no guest byte outside the response buffers and resource 1's backing (TRANSFER_FROM_HOST_3D fills it) changes,
 * unless the input attached backing of its own (then only the canary pages around guest memory are checked).
 * <p>
 * One device serves every input (virglrenderer starts once per process and thread); each input begins with a reset,
 * as a driver reset does. Skipped where virglrenderer cannot start (no GPU render node or EGL).
 */
class Gpu3dCommandFuzzTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long MAX_HOST_MEM = 64L << 20;
    private static final int W = 64;
    private static final int H = 32;
    private static final QueueFuzzer CONTROL = new QueueFuzzer();
    private static final ExecutorService WORKER = Gpu3dRequests.rendererThread("gpu3d-fuzz worker");
    private static final ErrorLog ERRORS = ErrorLog.install();
    private static GpuDevice gpu;
    private static String unavailable;

    @FuzzTest(maxDuration = "30s")
    void every3dRequestGetsExactlyOneWellFormedResponse(final FuzzedDataProvider data) throws Exception
    {
        Gpu3dRequests.runOn(WORKER, () -> run(data));
    }

    private static void run(final FuzzedDataProvider data)
    {
        if (null != unavailable)
        {
            return;
        }
        CONTROL.reset(CONTROL_QUEUE, 0);
        if (null == gpu)
        {
            try
            {
                Gpu3dTest.requireVirgl();
            }
            catch (final RuntimeException e)
            {
                // Assumptions' abort: no virglrenderer here; the 2D harness covers the rest.
                unavailable = e.getMessage();
                return;
            }
            gpu = new GpuDevice("fuzz3d", GpuOptions.builder().virgl(VirglFlags.SURFACELESS_EGL, 1 << 1 | 1 << 2)
                .maxHostMem(MAX_HOST_MEM).build(), () -> 0L);
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
        ERRORS.clear();
        final byte[][] requests = new byte[QueueFuzzer.SIZE][];
        prelude(requests);

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
                requests[head] = request;
            }
            if (data.consumeInt(0, 3) != 0)
            {
                serve(requests);
            }
        }
        serve(requests);
        assertThat(gpu.renderer().hostMemoryUsed()).as("renderer host memory").isLessThanOrEqualTo(MAX_HOST_MEM);
        assertThat(ERRORS.messages()).as("errors logged").isEmpty();
        CONTROL.finish();
    }

    /** Context 1 with render target 1 (64x32, backing attached), 2D resource 2. */
    private static void prelude(final byte[][] requests)
    {
        final long backing = CONTROL.allocate(W * H * 4, (byte)0x3C);
        CONTROL.allowWrites(backing, W * H * 4);
        for (final byte[] r : Gpu3dRequests.prelude(backing, W, H))
        {
            requests[CONTROL.add(r, HDR_SIZE)] = r;
            final long[] used = serve(requests);
            assertThat(used).hasSize(1);
            assertThat(CONTROL.written((int)(used[0] >>> 32), HDR_SIZE)).as("prelude response")
                .startsWith(0x00, 0x11, 0, 0);
        }
    }

    /** Serves the control queue until every request is answered (fenced ones when virglrenderer signals). */
    private static long[] serve(final byte[][] requests)
    {
        long[] all = new long[0];
        final long deadline = System.nanoTime() + 10_000_000_000L;
        do
        {
            for (final long u : CONTROL.serve(gpu))
            {
                checkResponse((int)(u >>> 32), u & 0xFFFF_FFFFL, requests);
                all = Arrays.copyOf(all, all.length + 1);
                all[all.length - 1] = u;
            }
            if (CONTROL.outstanding() > 0)
            {
                assertThat(System.nanoTime() - deadline).as("%d requests unanswered after 10 s",
                    CONTROL.outstanding()).isNegative();
                Thread.onSpinWait();
            }
        }
        while (CONTROL.outstanding() > 0);
        return all;
    }

    private static void checkResponse(final int head, final long length, final byte[][] requests)
    {
        if (length == 0)
        {
            return;
        }
        Gpu3dRequests.checkResponse(MemorySegment.ofArray(CONTROL.written(head, length)), length, requests[head]);
    }
}
