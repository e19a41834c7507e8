package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.ServedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link VideoDevice} with the {@link NullVideo} back-end behind the real vhost-user back-end, driven by the
 * in-process front-end: a stream's life (create, resources, queue, params, controls, drain, clear, destroy) with the
 * null back-end's answers, and hostile commands with the draft's error codes.
 */
@Timeout(60)
class VideoFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int H264 = 0x1002;

    @TempDir
    Path dir;

    private VideoDevice device;
    private ServedDevice served;

    private record Answer(int usedLength, MemorySegment bytes)
    {
        int type()
        {
            return bytes.get(LE32, 0);
        }

        int u32(final long offset)
        {
            return bytes.get(LE32, offset);
        }
    }

    private void start() throws Exception
    {
        device = new VideoDevice("video0", new NullVideo());
        served = ServedDevice.serve("video0", device, dir.resolve("video.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
    }

    private static Answer send(final FrontendQueue q, final byte[] command, final int writable) throws Exception
    {
        final FrontendQueue.Reply r = q.exchange(command, writable, WAIT);
        return new Answer(r.usedLength(), MemorySegment.ofArray(r.bytes()));
    }

    private static Answer send(final FrontendQueue q, final byte[] command) throws Exception
    {
        return send(q, command, 128);
    }

    /**
     * A command of {@code size} bytes: type, stream id, then {@code words} from offset 8.
     */
    private static byte[] cmd(final int size, final int type, final int stream, final int... words)
    {
        final byte[] b = new byte[size];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, type);
        s.set(LE32, 4, stream);
        for (int i = 0; i < words.length; i++)
        {
            s.set(LE32, 8 + 4L * i, words[i]);
        }
        return b;
    }

    private static byte[] resourceCreate(final int stream, final int queue, final int resource, final long... entries)
    {
        final byte[] b = cmd(88 + entries.length / 2 * 16, VideoDevice.CMD_RESOURCE_CREATE, stream, queue, resource,
            1, 1);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 56, entries.length / 2);
        for (int i = 0; i < entries.length / 2; i++)
        {
            s.set(LE64, 88 + 16L * i, entries[2 * i]);
            s.set(LE32, 88 + 16L * i + 8, (int)entries[2 * i + 1]);
        }
        return b;
    }

    @Test
    void aStreamLivesThroughTheNullBackEnd() throws Exception
    {
        start();
        served.drive(4L << 20, 1, b -> b.queues(2, 64), (ram, fe, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("vhost-device-video's features: common + RESOURCE_GUEST_PAGES")
                .isEqualTo(0x1_7100_0001L);
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, VideoDevice.CONFIG_SIZE));
            assertThat(new int[] {config.get(LE32, 0), config.get(LE32, 4), config.get(LE32, 8)})
                .as("version, max_caps_length, max_resp_length").containsExactly(0, 4096, 4096);
            final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);

            final Answer caps = send(q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0,
                VideoDevice.QUEUE_TYPE_INPUT));
            assertThat(caps.usedLength()).isEqualTo(16);
            assertThat(caps.type()).isEqualTo(VideoDevice.RESP_OK_QUERY_CAPABILITY);
            assertThat(caps.u32(8)).as("num_descs of null").isZero();
            final Answer control = send(q, cmd(24, VideoDevice.CMD_QUERY_CONTROL, 0, 1, 0, H264));
            assertThat(control.usedLength()).isEqualTo(20);
            assertThat(control.type()).isEqualTo(VideoDevice.RESP_OK_QUERY_CONTROL);

            final Answer created = send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 7, 0, 0, H264));
            assertThat(created.usedLength()).isEqualTo(8);
            assertThat(created.type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 7, 0, 0, H264)).type())
                .as("stream 7 again").isEqualTo(VideoDevice.RESP_ERR_INVALID_STREAM_ID);

            final long pages = ram.allocate(8192, 4096);
            assertThat(send(q, resourceCreate(7, VideoDevice.QUEUE_TYPE_INPUT, 3, pages, 8192)).type())
                .isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, resourceCreate(7, VideoDevice.QUEUE_TYPE_INPUT, 3, pages, 8192)).type())
                .as("resource 3 again").isEqualTo(VideoDevice.RESP_ERR_INVALID_RESOURCE_ID);
            assertThat(send(q, resourceCreate(7, VideoDevice.QUEUE_TYPE_OUTPUT, 3, pages, 8192)).type())
                .as("resource 3 on the other queue").isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, resourceCreate(7, VideoDevice.QUEUE_TYPE_INPUT, 4, 0x7FFF_0000_0000L, 4096))
                .type()).as("pages outside guest RAM").isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(send(q, resourceCreate(7, VideoDevice.QUEUE_TYPE_INPUT, 5)).type())
                .as("no memory entry").isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);

            final byte[] queue = cmd(64, VideoDevice.CMD_RESOURCE_QUEUE, 7, VideoDevice.QUEUE_TYPE_INPUT, 3);
            assertThat(send(q, queue).type()).as("null decodes nothing")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(64, VideoDevice.CMD_RESOURCE_QUEUE, 7, VideoDevice.QUEUE_TYPE_INPUT, 9))
                .type()).as("resource 9 was never created").isEqualTo(VideoDevice.RESP_ERR_INVALID_RESOURCE_ID);
            assertThat(send(q, cmd(16, VideoDevice.CMD_GET_PARAMS_EXT, 7, VideoDevice.QUEUE_TYPE_OUTPUT)).type())
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(128, VideoDevice.CMD_SET_PARAMS_EXT, 7, VideoDevice.QUEUE_TYPE_OUTPUT))
                .type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, cmd(16, VideoDevice.CMD_GET_CONTROL, 7, 1)).type())
                .isEqualTo(VideoDevice.RESP_ERR_UNSUPPORTED_CONTROL);
            assertThat(send(q, cmd(8, VideoDevice.CMD_STREAM_DRAIN, 7)).type())
                .isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, cmd(16, VideoDevice.CMD_QUEUE_CLEAR, 7, VideoDevice.QUEUE_TYPE_INPUT)).type())
                .isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, cmd(16, VideoDevice.CMD_RESOURCE_DESTROY_ALL, 7, VideoDevice.QUEUE_TYPE_INPUT))
                .type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, queue).type()).as("resources destroyed")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_RESOURCE_ID);
            assertThat(send(q, cmd(8, VideoDevice.CMD_STREAM_DESTROY, 7)).type())
                .isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(send(q, cmd(8, VideoDevice.CMD_STREAM_DRAIN, 7)).type()).as("a destroyed stream")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_STREAM_ID);
            assertThat(device.refusedCommands()).isPositive();
        });
    }

    @Test
    void hostileCommandsGetTheDraftsErrors() throws Exception
    {
        start();
        served.drive(4L << 20, 1, b -> b.queues(2, 64), (_, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);
            assertThat(send(q, cmd(16, 0x0199, 0)).type()).as("unknown type")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(16, 0x0108, 0)).type()).as("old GET_PARAMS")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, new byte[4]).type()).as("half a header")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(40, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, H264)).type())
                .as("STREAM_CREATE of 40 bytes").isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0, 0x102)).type())
                .as("queue type 0x102").isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, 0x2000)).type())
                .as("coded format 0x2000").isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 1, 0, H264)).type())
                .as("virtio objects, not offered").isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(send(q, cmd(8, VideoDevice.CMD_STREAM_DESTROY, 12345)).type()).as("no such stream")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_STREAM_ID);
            assertThat(send(q, cmd(24, VideoDevice.CMD_QUERY_CONTROL, 0, 99)).type()).as("control 99")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(send(q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0, VideoDevice.QUEUE_TYPE_INPUT), 12)
                .type()).as("no room for the 16-byte answer").isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(send(q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0, VideoDevice.QUEUE_TYPE_INPUT), 4)
                .usedLength()).as("no room for a header: returned empty").isZero();
            for (int id = 0; id < VideoDevice.MAX_STREAMS; id++)
            {
                assertThat(send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, id, 0, 0, H264)).type())
                    .isEqualTo(VideoDevice.RESP_OK_NODATA);
            }
            assertThat(send(q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 999, 0, 0, H264)).type())
                .as("one stream too many").isEqualTo(VideoDevice.RESP_ERR_OUT_OF_MEMORY);
            final byte[] nine = cmd(88, VideoDevice.CMD_RESOURCE_CREATE, 0, VideoDevice.QUEUE_TYPE_INPUT, 1, 1, 9);
            assertThat(send(q, nine).type()).as("9 planes").isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
        });
    }
}
