package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the video commandq with any commands (a real type or any other, streams open or not, any queue type,
 * resource, memory entries into guest memory or anywhere, cut into any buffers) against the null back-end. Besides
 * QueueFuzzer's checks (most inputs start with streams 0 to 3 created): every command is answered in the same serve, with nothing (fewer than 8 writable bytes) or a
 * response whose type the draft defines, of its type's size; the device is built once and reset after each input (a
 * driver's reset), which must leave no stream open and nothing held. The same commands against {@link V4l2Decoder} and its
 * {@link FakeDecoderNode} (the fake decoding whenever the input says so, or at each QBUF and STREAMON): RESOURCE_QUEUE may be held, but every
 * command comes back, answered once with a defined response, by the time the streams are destroyed. That device, its
 * decoder and the fake node are built once and reset after each input (a driver's reset), which must leave no node
 * open, no stream, no command held and no host buffer reserved (checked per input).
 */
class VideoCommandFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The null back-end's device, built once (reset and checked clean per input). */
    private static final VideoDevice NULL_DEVICE = new VideoDevice("fuzz", new NullVideo());
    /** The V4l2Decoder method's node and device, built once (reset and checked clean per input). */
    private static final FakeDecoderNode FAKE = new FakeDecoderNode();
    private static V4l2Decoder decoder;
    private static VideoDevice decoderDevice;
    private static final int[] TYPES = {0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x10A, 0x10B, 0x10D,
        0x10E};

    @FuzzTest(maxDuration = "30s")
    void everyCommandIsAnsweredOnceWithADefinedResponse(final FuzzedDataProvider data)
    {
        QUEUE.reset(VideoDevice.COMMAND_QUEUE, 0);
        final VideoDevice video = NULL_DEVICE;
        try
        {
            nullBackEnd(data, video);
        }
        finally
        {
            video.reset();
        }
        assertThat(video.openStreams()).as("streams after the reset").isZero();
        assertThat(video.heldCommands()).as("commands held after the reset").isZero();
        QUEUE.finish();
    }

    private static void nullBackEnd(final FuzzedDataProvider data, final VideoDevice video)
    {
        video.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
        if (data.consumeBoolean())
        {
            // Most inputs start with streams 0 to 3 open, so that the stream commands get past the id check.
            for (int id = 0; id < 4; id++)
            {
                final byte[] create = new byte[88];
                MemorySegment.ofArray(create).set(LE32, 0, VideoDevice.CMD_STREAM_CREATE);
                MemorySegment.ofArray(create).set(LE32, 4, id);
                MemorySegment.ofArray(create).set(LE32, 16, 0x1002);
                QUEUE.add(create, 8);
            }
        }
        while (data.remainingBytes() > 0)
        {
            final int commands = data.consumeInt(1, 8);
            for (int i = 0; i < commands; i++)
            {
                QUEUE.add(data, command(data), 160);
            }
            for (final long u : QUEUE.serve(video))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                if (QUEUE.writableBytes(head) < 8)
                {
                    assertThat(length).as("command %d without room for the header", head).isZero();
                    continue;
                }
                final int type = MemorySegment.ofArray(QUEUE.written(head, length)).get(LE32, 0);
                assertThat(type).as("response type of command %d", head).isBetween(VideoDevice.RESP_OK_NODATA,
                    VideoDevice.RESP_ERR_UNSUPPORTED_CONTROL);
                assertThat(length).as("size of response 0x%x", type).isEqualTo(switch (type)
                {
                    case VideoDevice.RESP_OK_QUERY_CAPABILITY -> 16L;
                    case VideoDevice.RESP_OK_QUERY_CONTROL -> 20L;
                    case VideoDevice.RESP_OK_RESOURCE_QUEUE -> 24L;
                    case VideoDevice.RESP_OK_GET_PARAMS -> 128L;
                    default -> 8L;
                });
            }
            assertThat(QUEUE.outstanding()).as("commands left unanswered").isZero();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void everyCommandToTheV4l2DecoderComesBackByStreamDestroy(final FuzzedDataProvider data) throws Exception
    {
        QUEUE.reset(VideoDevice.COMMAND_QUEUE, 0);
        // Frames go into resources' guest pages, which the input places anywhere.
        QUEUE.allowAllWrites();
        final FakeDecoderNode fake = FAKE;
        // Some inputs have the node finish jobs at once (QBUF, STREAMON): buffers reported during their own command.
        fake.decodeOnQueue = data.consumeBoolean();
        if (null == decoderDevice)
        {
            decoder = new V4l2Decoder(fake, 1 << 20);
            decoderDevice = new VideoDevice("fuzz", decoder);
            decoderDevice.attach(queue -> { });
        }
        final VideoDevice video = decoderDevice;
        try
        {
            video.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
            for (int id = 0; id < 4; id++)
            {
                final byte[] create = new byte[88];
                MemorySegment.ofArray(create).set(LE32, 0, VideoDevice.CMD_STREAM_CREATE);
                MemorySegment.ofArray(create).set(LE32, 4, id);
                MemorySegment.ofArray(create).set(LE32, 16, 0x1002);
                QUEUE.add(create, 8);
            }
            while (data.remainingBytes() > 0)
            {
                final int commands = data.consumeInt(1, 8);
                for (int i = 0; i < commands; i++)
                {
                    QUEUE.add(data, command(data), 160);
                }
                if (data.consumeBoolean())
                {
                    fake.decode();
                }
                check(QUEUE.serve(video));
            }
            for (int id = 0; id < 4; id++)
            {
                final byte[] destroy = new byte[8];
                MemorySegment.ofArray(destroy).set(LE32, 0, VideoDevice.CMD_STREAM_DESTROY);
                MemorySegment.ofArray(destroy).set(LE32, 4, id);
                QUEUE.add(destroy, 8);
            }
            check(QUEUE.serve(video));
            assertThat(QUEUE.outstanding()).as("commands never returned").isZero();
            assertThat(video.heldCommands()).isZero();
            assertThat(fake.openFiles()).as("every stream's node closed").isZero();
        }
        finally
        {
            // As a driver's reset: whatever the input left (streams of other ids too) goes.
            video.reset();
        }
        assertThat(fake.openFiles()).as("nodes open after the reset").isZero();
        assertThat(decoder.openStreams()).as("streams after the reset").isZero();
        assertThat(video.openStreams()).as("device streams after the reset").isZero();
        assertThat(video.heldCommands()).as("commands held after the reset").isZero();
        assertThat(decoder.hostBytesReserved()).as("host buffer bytes after the reset").isZero();
        QUEUE.finish();
    }

    private static void check(final long[] used)
    {
        for (final long u : used)
        {
            final int head = (int)(u >>> 32);
            final long length = u & 0xFFFF_FFFFL;
            if (QUEUE.writableBytes(head) < 8)
            {
                assertThat(length).as("command %d without room for the header", head).isZero();
                continue;
            }
            final int type = MemorySegment.ofArray(QUEUE.written(head, length)).get(LE32, 0);
            assertThat(type).as("response type of command %d", head).isBetween(VideoDevice.RESP_OK_NODATA,
                VideoDevice.RESP_ERR_UNSUPPORTED_CONTROL);
            if (type == VideoDevice.RESP_OK_QUERY_CAPABILITY)
            {
                assertThat(length).isGreaterThanOrEqualTo(16);
                continue;
            }
            assertThat(length).as("size of response 0x%x", type).isEqualTo(switch (type)
            {
                case VideoDevice.RESP_OK_QUERY_CONTROL -> 20L;
                case VideoDevice.RESP_OK_RESOURCE_QUEUE -> 24L;
                case VideoDevice.RESP_OK_GET_PARAMS -> 128L;
                default -> 8L;
            });
        }
    }

    private static byte[] command(final FuzzedDataProvider data)
    {
        if (data.consumeBoolean())
        {
            return data.consumeBytes(data.consumeInt(0, 160));
        }
        final int type = TYPES[data.consumeInt(0, TYPES.length - 1)];
        final boolean entry = type == VideoDevice.CMD_RESOURCE_CREATE && data.consumeBoolean();
        final int size = switch (type)
        {
            case VideoDevice.CMD_STREAM_DESTROY, VideoDevice.CMD_STREAM_DRAIN -> 8;
            case VideoDevice.CMD_QUERY_CONTROL -> 24;
            case VideoDevice.CMD_STREAM_CREATE -> 88;
            case VideoDevice.CMD_RESOURCE_CREATE -> entry ? 104 : 88;
            case VideoDevice.CMD_RESOURCE_QUEUE -> 64;
            case VideoDevice.CMD_SET_PARAMS_EXT -> 128;
            default -> 16;
        };
        final byte[] b = new byte[data.consumeBoolean() ? size : data.consumeInt(8, 160)];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, type);
        s.set(LE32, 4, data.consumeInt(0, 3));
        if (b.length >= 12)
        {
            s.set(LE32, 8, switch (type)
            {
                case VideoDevice.CMD_STREAM_CREATE -> data.consumeBoolean() ? 0 : data.consumeInt();
                case VideoDevice.CMD_QUERY_CONTROL, VideoDevice.CMD_GET_CONTROL -> data.consumeInt(0, 8);
                default -> data.consumeBoolean() ? VideoDevice.QUEUE_TYPE_INPUT
                    : data.consumeBoolean() ? VideoDevice.QUEUE_TYPE_OUTPUT : data.consumeInt();
            });
        }
        if (b.length >= 20)
        {
            s.set(LE32, 12, type == VideoDevice.CMD_STREAM_CREATE ? 0 : data.consumeInt(0, 3));
            s.set(LE32, 16, type == VideoDevice.CMD_STREAM_CREATE && data.consumeBoolean() ? 0x1002
                : data.consumeInt());
        }
        if (type == VideoDevice.CMD_RESOURCE_CREATE && b.length >= 60)
        {
            s.set(LE32, 20, data.consumeInt(0, 9));
            s.set(LE32, 56, data.consumeInt(0, 2));
        }
        if (entry && b.length >= 104)
        {
            s.set(LE64, 88, data.consumeBoolean() ? QUEUE.allocate(64, (byte)0) : data.consumeLong());
            s.set(LE32, 96, data.consumeInt(0, 64));
        }
        if (type == VideoDevice.CMD_RESOURCE_QUEUE && b.length >= 28)
        {
            s.set(LE32, 24, data.consumeInt(0, 9));
        }
        return b;
    }
}
