package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.ServedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.video.VideoDriverKit.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * RESOURCE_QUEUE held by the device until its back-end ({@link ScriptedVideo}) reports the buffer done, behind the
 * real vhost-user back-end and driven by the in-process front-end: the memory entries reach the back-end, a held
 * command is not answered until reported, a report from a descriptor watched on the worker answers it with the
 * draft's OK_RESOURCE_QUEUE (timestamp, flags, size), a drain's buffers come back before the drain's answer, and
 * QUEUE_CLEAR / STREAM_DESTROY return the held buffers flagged ERR before their own answer.
 */
@Timeout(60)
class VideoHeldQueueTest
{
    /** The writable reply each posted command gets. */
    private static final int REPLY = 128;
    private static final int H264 = 0x1002;

    @TempDir
    Path dir;

    private ServedDevice served;

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
    }

    @Test
    void heldResourceQueueCommandsAreAnsweredWhenTheBackEndReportsTheirBuffers() throws Exception
    {
        final ScriptedVideo backend = new ScriptedVideo(true);
        final VideoDevice device = new VideoDevice("video0", backend);
        served = ServedDevice.serve("video0", device, dir.resolve("video.sock"));
        try
        {
            served.drive(4L << 20, 1, b -> b.queues(2, 64), (ram, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);
                final List<Posted> posted = new ArrayList<>();
                posted.add(post(ram, q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, H264), REPLY));
                assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
                assertThat(Await.until(() -> backend.watching, WAIT)).as("the trigger is watched on the worker")
                    .isTrue();

                // Input resource 10 in two entries of plane 0, output resource 20 in one.
                final long a = ram.allocate(4096, 4096);
                final long b = ram.allocate(8192, 4096);
                final byte[] input = cmd(88 + 32, VideoDevice.CMD_RESOURCE_CREATE, 1, VideoDevice.QUEUE_TYPE_INPUT, 10,
                    1, 1);
                final MemorySegment in = MemorySegment.ofArray(input);
                in.set(LE32, 56, 2);
                in.set(LE64, 88, a);
                in.set(LE32, 96, 4096);
                in.set(LE64, 104, b);
                in.set(LE32, 112, 100);
                final byte[] output = cmd(88 + 16, VideoDevice.CMD_RESOURCE_CREATE, 1, VideoDevice.QUEUE_TYPE_OUTPUT,
                    20, 1, 1);
                final MemorySegment out = MemorySegment.ofArray(output);
                out.set(LE32, 56, 1);
                out.set(LE64, 88, b + 4096);
                out.set(LE32, 96, 4096);
                posted.add(post(ram, q, input, REPLY));
                posted.add(post(ram, q, output, REPLY));
                assertThat(answers(ram, q, posted, 2, REPLY)).extracting(Answer::type)
                    .containsExactly(VideoDevice.RESP_OK_NODATA, VideoDevice.RESP_OK_NODATA);
                final VideoResource pages = backend.resources.get(10);
                assertThat(pages.planes()).isEqualTo(1);
                assertThat(pages.entries()).containsExactly(2);
                assertThat(pages.addresses()).as("the guest pages reach the back-end").containsExactly(a, b);
                assertThat(pages.lengths()).containsExactly(4096, 100);
                assertThat(backend.resources.get(20).addresses()).containsExactly(b + 4096);

                // Both queued buffers are held: no answer until the back-end reports them.
                final Posted bitstream = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 0x1234_5678_9AL, 777),
                    REPLY);
                final Posted frame = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 20, 0, 0), REPLY);
                posted.add(bitstream);
                posted.add(frame);
                assertThat(Await.until(() -> backend.queued.size() == 2, WAIT)).isTrue();
                assertThat(backend.queued.getFirst())
                    .isEqualTo(new ScriptedVideo.Queued(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 0x1234_5678_9AL, 777));
                // A command after them is answered (the queue is served), they are not.
                posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 1, 1), REPLY));
                final Answer twice = answers(ram, q, posted, 1, REPLY).getFirst();
                assertThat(twice.type()).as("resource 10 is queued already").isEqualTo(
                    VideoDevice.RESP_ERR_INVALID_PARAMETER);
                assertThat(device.heldCommands()).isEqualTo(2);
                assertThat(device.openStreams()).isOne();

                // The back-end reports the frame from its descriptor, on the worker, with no command to carry it.
                backend.nextSize = 3110;
                assertThat(backend.trigger.signal()).isTrue();
                final Answer decoded = answers(ram, q, posted, 1, REPLY).getFirst();
                assertThat(decoded.head()).isEqualTo(frame.head());
                assertThat(decoded.usedLength()).isEqualTo(24);
                assertThat(decoded.type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
                assertThat(decoded.timestamp()).as("the bitstream's timestamp").isEqualTo(0x1234_5678_9AL);
                assertThat(decoded.flags()).isZero();
                assertThat(decoded.size()).isEqualTo(3110);
                assertThat(device.heldCommands()).isEqualTo(1);

                // Drain: the back-end reports the bitstream during it; its answer comes before the drain's.
                posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DRAIN, 1), REPLY));
                final List<Answer> drained = answers(ram, q, posted, 2, REPLY);
                assertThat(drained.get(0).head()).isEqualTo(bitstream.head());
                assertThat(drained.get(0).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
                assertThat(drained.get(0).timestamp()).isEqualTo(0x1234_5678_9AL);
                assertThat(drained.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);

                // QUEUE_CLEAR of the input returns its held buffer flagged ERR, then answers; the output stays held.
                final Posted again = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 77, 5), REPLY);
                final Posted frame2 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 20, 0, 0), REPLY);
                posted.add(again);
                posted.add(frame2);
                posted.add(post(ram, q, cmd(16, VideoDevice.CMD_QUEUE_CLEAR, 1, VideoDevice.QUEUE_TYPE_INPUT), REPLY));
                final List<Answer> cleared = answers(ram, q, posted, 2, REPLY);
                assertThat(cleared.get(0).head()).isEqualTo(again.head());
                assertThat(cleared.get(0).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
                assertThat(cleared.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
                assertThat(cleared.get(0).timestamp()).isEqualTo(77);
                assertThat(cleared.get(0).size()).isZero();
                assertThat(cleared.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
                assertThat(device.heldCommands()).isEqualTo(1);

                // STREAM_DESTROY returns the held output flagged ERR before its own answer.
                posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DESTROY, 1), REPLY));
                final List<Answer> destroyed = answers(ram, q, posted, 2, REPLY);
                assertThat(destroyed.get(0).head()).isEqualTo(frame2.head());
                assertThat(destroyed.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
                assertThat(destroyed.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
                assertThat(device.heldCommands()).isZero();
                assertThat(device.openStreams()).isZero();
                assertThat(q.inFlight()).as("every chain came back").isZero();
            });
        }
        finally
        {
            backend.close();
        }
    }
}
