package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Set;
import java.util.function.Consumer;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.fuzz.QueueFuzzer;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the GPU command layer: any bytes as control or cursor requests (or a fuzzed payload behind a real command
 * type, to get past the type switch) against a GpuDevice with two outputs, a display attached (FakeDisplay) and a
 * resource with backing shown on scanout 0. Every control request gets exactly one response, once the display has
 * answered what it was asked: a response buffer too small for the response gets 0 bytes, any other a header with an
 * OK or ERR type of its exact size, FLAG_FENCE and the fence id back when the request was fenced. Cursor requests
 * are returned with nothing written. QueueFuzzer checks that no guest byte outside the response buffers changes.
 * After each input the device is reset, as the back-end resets it at a connection's end, and must hold no resource,
 * no host memory and nothing of its memory budget.
 */
class GpuCommandFuzzTest
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] COMMANDS = {CMD_GET_DISPLAY_INFO, CMD_RESOURCE_CREATE_2D, CMD_RESOURCE_UNREF,
        CMD_SET_SCANOUT, CMD_RESOURCE_FLUSH, CMD_TRANSFER_TO_HOST_2D, CMD_RESOURCE_ATTACH_BACKING,
        CMD_RESOURCE_DETACH_BACKING, CMD_GET_CAPSET_INFO, CMD_GET_CAPSET, CMD_GET_EDID, CMD_RESOURCE_ASSIGN_UUID,
        CMD_RESOURCE_CREATE_BLOB, CMD_SET_SCANOUT_BLOB, CMD_CTX_CREATE, CMD_RESOURCE_UNMAP_BLOB, CMD_UPDATE_CURSOR,
        CMD_MOVE_CURSOR};
    private static final Set<Integer> NODATA = Set.of(RESP_OK_NODATA, RESP_ERR_UNSPEC, RESP_ERR_OUT_OF_MEMORY,
        RESP_ERR_INVALID_SCANOUT_ID, RESP_ERR_INVALID_RESOURCE_ID, RESP_ERR_INVALID_CONTEXT_ID,
        RESP_ERR_INVALID_PARAMETER);
    private static final QueueFuzzer CONTROL = new QueueFuzzer();
    private static final QueueFuzzer CURSOR = new QueueFuzzer();

    @FuzzTest(maxDuration = "30s")
    void everyControlRequestGetsExactlyOneWellFormedResponse(final FuzzedDataProvider data)
    {
        CONTROL.reset(CONTROL_QUEUE, 0);
        CURSOR.reset(CURSOR_QUEUE, 0);
        final GpuDevice gpu = new GpuDevice("fuzz", GpuOptions.builder().maxOutputs(2).maxHostMem(16 << 20)
            .resourceUuid(true).resourceBlob(true).build(), () -> 0L);
        gpu.attach(new DeviceContext()
        {
            @Override
            public void wake(final int queue)
            {
                // Served after every batch anyway.
            }
        });
        final FakeDisplay display = new FakeDisplay();
        display.immediateModes = new DisplayMode[] {new DisplayMode(0, 0, 640, 480, true)};
        gpu.setDisplay(display);
        final byte[][] requests = new byte[QueueFuzzer.SIZE][];
        prelude(gpu, display, requests);

        while (data.remainingBytes() > 0)
        {
            final boolean cursor = data.consumeInt(0, 7) == 0;
            final byte[] request = request(data);
            if (cursor)
            {
                CURSOR.add(data, request, 64);
                for (final long u : CURSOR.serve(gpu))
                {
                    assertThat(u & 0xFFFF_FFFFL).as("cursor request answered with bytes").isZero();
                }
                assertThat(CURSOR.outstanding()).as("cursor requests left").isZero();
                continue;
            }
            final int head = CONTROL.add(data, request, data.consumeBoolean() ? 24 : data.consumeInt(0, 2048));
            if (head >= 0)
            {
                requests[head] = request;
            }
            serveControl(gpu, display, requests);
        }
        CONTROL.finish();
        CURSOR.finish();
        // Resources are host memory outside the Java heap: only a reset gives it back (the back-end resets at a
        // connection's end). Without this, every input's resources stayed: 19 GB after a million inputs.
        gpu.reset();
        assertThat(gpu.resourceCount()).as("resources after a reset").isZero();
        assertThat(gpu.hostMemoryUsed()).as("host memory after a reset").isZero();
        assertThat(gpu.memoryBudget().used()).as("memory budget used after a reset").isZero();
    }

    /** Resource 1 (64x64 B8G8R8A8) with backing, shown on scanout 0. */
    private static void prelude(final GpuDevice gpu, final FakeDisplay display, final byte[][] requests)
    {
        final long backing = CONTROL.allocate(64 * 64 * 4, (byte)0x7F);
        final byte[] attach = new byte[ATTACH_SIZE + MEM_ENTRY_SIZE];
        final MemorySegment a = MemorySegment.ofArray(attach);
        a.set(U32, HDR_TYPE, CMD_RESOURCE_ATTACH_BACKING);
        a.set(U32, ATTACH_RESOURCE_ID, 1);
        a.set(U32, ATTACH_NR_ENTRIES, 1);
        a.set(U64, ATTACH_SIZE, backing);
        a.set(U32, ATTACH_SIZE + 8, 64 * 64 * 4);
        for (final byte[] r : new byte[][] {GpuHarness.create2d(1, 1, 64, 64).array(), attach,
            GpuHarness.setScanout(0, 1, 0, 0, 64, 64).array(), GpuHarness.transfer(1, 0, 0, 64, 64, 0).array(),
            GpuHarness.flush(1, 0, 0, 64, 64).array()})
        {
            requests[CONTROL.add(r, HDR_SIZE)] = r;
            final long[] used = serveControl(gpu, display, requests);
            assertThat(used).hasSize(1);
            assertThat(CONTROL.written((int)(used[0] >>> 32), HDR_SIZE)).as("prelude response")
                .startsWith(0x00, 0x11, 0, 0);
        }
    }

    private static long[] serveControl(final GpuDevice gpu, final FakeDisplay display, final byte[][] requests)
    {
        long[] all = new long[0];
        for (int round = 0; round < 4 && CONTROL.outstanding() > 0; round++)
        {
            for (final long u : CONTROL.serve(gpu))
            {
                checkResponse((int)(u >>> 32), u & 0xFFFF_FFFFL, requests);
                all = java.util.Arrays.copyOf(all, all.length + 1);
                all[all.length - 1] = u;
            }
            answer(display);
        }
        assertThat(CONTROL.outstanding()).as("control requests left unanswered").isZero();
        return all;
    }

    /** Answers what the device asked the display (EDID), as a display does, for the next serve to respond. */
    private static void answer(final FakeDisplay display)
    {
        final Consumer<byte[]> edid = display.pendingEdid;
        display.pendingEdid = null;
        if (null != edid)
        {
            edid.accept(null);
        }
        final Consumer<DisplayMode[]> info = display.pendingInfo;
        display.pendingInfo = null;
        if (null != info)
        {
            info.accept(display.immediateModes);
        }
    }

    private static void checkResponse(final int head, final long length, final byte[][] requests)
    {
        if (length == 0)
        {
            return;
        }
        final MemorySegment response = MemorySegment.ofArray(CONTROL.written(head, length));
        final int type = response.get(U32, HDR_TYPE);
        assertThat(length).as("response of type 0x%x", type).isGreaterThanOrEqualTo(HDR_SIZE);
        final long expected = switch (type)
        {
            case RESP_OK_DISPLAY_INFO -> DISPLAY_INFO_SIZE;
            case RESP_OK_EDID -> EDID_RESP_SIZE;
            case RESP_OK_RESOURCE_UUID -> UUID_RESP_SIZE;
            default ->
            {
                assertThat(NODATA).as("response type 0x%x", type).contains(type);
                yield HDR_SIZE;
            }
        };
        assertThat(length).as("length of response 0x%x", type).isEqualTo(expected);
        final byte[] request = requests[head];
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

    private static byte[] request(final FuzzedDataProvider data)
    {
        final byte[] bytes = data.consumeBytes(data.consumeInt(0, 160));
        if (bytes.length >= 4 && data.consumeBoolean())
        {
            MemorySegment.ofArray(bytes).set(U32, HDR_TYPE, COMMANDS[data.consumeInt(0, COMMANDS.length - 1)]);
        }
        return bytes;
    }
}
