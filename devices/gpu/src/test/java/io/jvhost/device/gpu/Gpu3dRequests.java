package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import io.jvhost.virgl.ResourceCreateArgs;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The control requests of the 3D fuzz harnesses ({@link Gpu3dCommandFuzzTest} against virglrenderer,
 * {@link Gpu3dCommandPathFuzzTest} against {@link RecordingVirgl}): one input format, so either's corpus seeds the
 * other.
 */
final class Gpu3dRequests
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final int[] COMMANDS = {CMD_CTX_CREATE, CMD_CTX_DESTROY, CMD_CTX_ATTACH_RESOURCE,
        CMD_CTX_DETACH_RESOURCE, CMD_RESOURCE_CREATE_3D, CMD_TRANSFER_TO_HOST_3D, CMD_TRANSFER_FROM_HOST_3D,
        CMD_SUBMIT_3D, CMD_GET_CAPSET_INFO, CMD_GET_CAPSET, CMD_RESOURCE_UNREF, CMD_RESOURCE_FLUSH, CMD_SET_SCANOUT,
        CMD_RESOURCE_CREATE_2D, CMD_RESOURCE_ATTACH_BACKING, CMD_RESOURCE_DETACH_BACKING, CMD_TRANSFER_TO_HOST_2D};

    static final Set<Integer> NODATA = Set.of(RESP_OK_NODATA, RESP_ERR_UNSPEC, RESP_ERR_OUT_OF_MEMORY,
        RESP_ERR_INVALID_SCANOUT_ID, RESP_ERR_INVALID_RESOURCE_ID, RESP_ERR_INVALID_CONTEXT_ID,
        RESP_ERR_INVALID_PARAMETER);

    private Gpu3dRequests()
    {
    }

    /**
     * @return a single daemon thread to run every input on: virglrenderer is called from one thread only (its GL
     *     context is bound to it), and {@link RecordingVirgl} fails a call from any other.
     */
    static ExecutorService rendererThread(final String name)
    {
        return Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs one input on {@code thread} and waits for it; an assertion failure (any Error) is rethrown as itself, so
     * the fuzzer reports the harness's message.
     */
    static void runOn(final ExecutorService thread, final Runnable input) throws Exception
    {
        try
        {
            thread.submit(input).get();
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof Error error)
            {
                throw error;
            }
            throw e;
        }
    }

    /**
     * The requests every input starts with: context 1, render target 1 ({@code w}x{@code h}, B8G8R8X8) with the
     * backing at {@code backing} attached and attached to context 1, 2D resource 2 (16x16).
     */
    static byte[][] prelude(final long backing, final int w, final int h)
    {
        final byte[] attach = new byte[ATTACH_SIZE + MEM_ENTRY_SIZE];
        final MemorySegment a = MemorySegment.ofArray(attach);
        a.set(U32, HDR_TYPE, CMD_RESOURCE_ATTACH_BACKING);
        a.set(U32, ATTACH_RESOURCE_ID, 1);
        a.set(U32, ATTACH_NR_ENTRIES, 1);
        a.set(U64, ATTACH_SIZE, backing);
        a.set(U32, ATTACH_SIZE + 8, w * h * 4);
        final byte[] ctx = new byte[96];
        MemorySegment.ofArray(ctx).set(U32, HDR_TYPE, CMD_CTX_CREATE);
        MemorySegment.ofArray(ctx).set(U32, HDR_CTX_ID, 1);
        MemorySegment.ofArray(ctx).set(U32, 24, 4);
        MemorySegment.ofArray(ctx).set(U32, 32, 0x7a7a7566);
        final byte[] create = new byte[72];
        final MemorySegment c = MemorySegment.ofArray(create);
        c.set(U32, HDR_TYPE, CMD_RESOURCE_CREATE_3D);
        c.set(U32, 24, 1);
        c.set(U32, 28, 2);
        c.set(U32, 32, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM);
        c.set(U32, 36, ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT);
        c.set(U32, 40, w);
        c.set(U32, 44, h);
        c.set(U32, 48, 1);
        c.set(U32, 52, 1);
        final byte[] ctxAttach = new byte[32];
        MemorySegment.ofArray(ctxAttach).set(U32, HDR_TYPE, CMD_CTX_ATTACH_RESOURCE);
        MemorySegment.ofArray(ctxAttach).set(U32, HDR_CTX_ID, 1);
        MemorySegment.ofArray(ctxAttach).set(U32, 24, 1);
        return new byte[][] {ctx, create, attach, ctxAttach, GpuHarness.create2d(2, 1, 16, 16).array()};
    }

    /**
     * A response of {@code length} bytes (at least 1) to {@code request}: an OK or ERR type of its exact size
     * (capset info 40 bytes, a capset 1..4096, a UUID 40, an EDID 1056), the fence flag and id back when the request was fenced, not otherwise.
     */
    static void checkResponse(final MemorySegment response, final long length, final byte[] request)
    {
        final int type = response.get(U32, HDR_TYPE);
        assertThat(length).as("response of type 0x%x", type).isGreaterThanOrEqualTo(HDR_SIZE);
        switch (type)
        {
            case RESP_OK_CAPSET_INFO -> assertThat(length).as("capset info").isEqualTo(40);
            case RESP_OK_CAPSET -> assertThat(length - HDR_SIZE).as("capset bytes")
                .isBetween(1L, (long)VirglRendererAdapter.MAX_CAPSET_BYTES);
            case RESP_OK_DISPLAY_INFO -> assertThat(length).isEqualTo(DISPLAY_INFO_SIZE);
            case RESP_OK_EDID -> assertThat(length).as("EDID").isEqualTo(EDID_RESP_SIZE);
            case RESP_OK_RESOURCE_UUID -> assertThat(length).as("resource UUID").isEqualTo(UUID_RESP_SIZE);
            default ->
            {
                assertThat(NODATA).as("response type 0x%x", type).contains(type);
                assertThat(length).as("length of response 0x%x", type).isEqualTo(HDR_SIZE);
            }
        }
        if (request.length >= HDR_SIZE && (MemorySegment.ofArray(request).get(U32, HDR_FLAGS) & FLAG_FENCE) != 0)
        {
            assertThat(response.get(U32, HDR_FLAGS) & FLAG_FENCE).as("fence flag echoed").isEqualTo(FLAG_FENCE);
            assertThat(response.get(U64, HDR_FENCE_ID)).as("fence id echoed")
                .isEqualTo(MemorySegment.ofArray(request).get(U64, HDR_FENCE_ID));
        }
        else
        {
            assertThat(response.get(U32, HDR_FLAGS) & FLAG_FENCE).as("fence flag on an unfenced request").isZero();
        }
    }

    /**
     * Any bytes; mostly a 3D command type with context 1 and (where a resource id goes) resource 1 or 2.
     */
    static byte[] request(final FuzzedDataProvider data)
    {
        final byte[] bytes = data.consumeBytes(data.consumeInt(0, 200));
        if (bytes.length >= HDR_SIZE && data.consumeInt(0, 7) != 0)
        {
            final MemorySegment r = MemorySegment.ofArray(bytes);
            final int type = COMMANDS[data.consumeInt(0, COMMANDS.length - 1)];
            r.set(U32, HDR_TYPE, type);
            if (data.consumeBoolean())
            {
                r.set(U32, HDR_CTX_ID, data.consumeInt(0, 2));
            }
            final int resourceAt = switch (type)
            {
                case CMD_CTX_ATTACH_RESOURCE, CMD_CTX_DETACH_RESOURCE, CMD_RESOURCE_CREATE_3D -> 24;
                case CMD_TRANSFER_TO_HOST_3D, CMD_TRANSFER_FROM_HOST_3D -> 56;
                default -> -1;
            };
            if (resourceAt >= 0 && bytes.length >= resourceAt + 4 && data.consumeBoolean())
            {
                r.set(U32, resourceAt, data.consumeInt(1, 3));
            }
            if (type == CMD_SUBMIT_3D && bytes.length >= 28 && data.consumeBoolean())
            {
                // The stream's size: what follows the 32-byte head, give or take.
                r.set(U32, 24, Math.max(0, bytes.length - 32 + data.consumeInt(-4, 4)));
            }
        }
        return bytes;
    }
}
