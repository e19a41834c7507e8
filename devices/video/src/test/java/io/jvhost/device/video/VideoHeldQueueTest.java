package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int H264 = 0x1002;

    @TempDir
    Path dir;

    private VhostUserDaemon daemon;
    private Thread daemonThread;

    /** A command in flight: its head and where its answer goes. */
    private record Posted(int head, long out)
    {
    }

    /** An answer: the used length and the response's bytes. */
    private record Answer(int head, int usedLength, MemorySegment bytes)
    {
        int type()
        {
            return bytes.get(LE32, 0);
        }

        long timestamp()
        {
            return bytes.get(LE64, 8);
        }

        int flags()
        {
            return bytes.get(LE32, 16);
        }

        int size()
        {
            return bytes.get(LE32, 20);
        }
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != daemon)
        {
            daemon.close();
            daemonThread.join(10_000);
        }
    }

    private static Posted post(final GuestRam ram, final FrontendQueue q, final byte[] command) throws Exception
    {
        final long in = ram.allocate(command.length, 8);
        ram.write(in, command, 0, command.length);
        final long out = ram.allocate(128, 8);
        ram.fill(out, 128, (byte)0xEE);
        final int head = q.add(new long[] {in, out}, new int[] {command.length, 128}, 1, 1);
        assertThat(head).isNotNegative();
        q.publishAndKick();
        return new Posted(head, out);
    }

    /**
     * Waits for {@code n} answers and returns them in the order the device used them.
     */
    private static List<Answer> answers(final GuestRam ram, final FrontendQueue q, final List<Posted> posted,
        final int n) throws Exception
    {
        final List<Answer> got = new ArrayList<>();
        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (got.size() < n && System.nanoTime() < deadline)
        {
            final int used = q.awaitUsed(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            for (int i = 0; i < used; i++)
            {
                final int head = q.usedHead(i);
                final Posted p = posted.stream().filter(x -> x.head() == head).reduce((a, b) -> b).orElseThrow();
                got.add(new Answer(head, q.usedLength(i), MemorySegment.ofArray(ram.read(p.out(), 128))));
            }
        }
        assertThat(got).as("answers").hasSize(n);
        return got;
    }

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

    private static byte[] queue(final int stream, final int queueType, final int resource, final long timestamp,
        final int dataSize)
    {
        final byte[] b = cmd(64, VideoDevice.CMD_RESOURCE_QUEUE, stream, queueType, resource);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE64, 16, timestamp);
        s.set(LE32, 24, 1);
        s.set(LE32, 28, dataSize);
        return b;
    }

    @Test
    void heldResourceQueueCommandsAreAnsweredWhenTheBackEndReportsTheirBuffers() throws Exception
    {
        final ScriptedVideo backend = new ScriptedVideo(true);
        final VideoDevice device = new VideoDevice("video0", backend);
        final Path socket = dir.resolve("video.sock");
        daemon = VhostUserDaemon.listen("video0", device, socket);
        daemonThread = Thread.ofPlatform().name("video-daemon").start(daemon::run);
        try (GuestRam ram = GuestRam.create(4L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);
            final List<Posted> posted = new ArrayList<>();
            posted.add(post(ram, q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, H264)));
            assertThat(answers(ram, q, posted, 1).getFirst().type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(Await.until(() -> backend.watching, WAIT)).as("the trigger is watched on the worker").isTrue();

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
            final byte[] output = cmd(88 + 16, VideoDevice.CMD_RESOURCE_CREATE, 1, VideoDevice.QUEUE_TYPE_OUTPUT, 20,
                1, 1);
            final MemorySegment out = MemorySegment.ofArray(output);
            out.set(LE32, 56, 1);
            out.set(LE64, 88, b + 4096);
            out.set(LE32, 96, 4096);
            posted.add(post(ram, q, input));
            posted.add(post(ram, q, output));
            assertThat(answers(ram, q, posted, 2)).extracting(Answer::type)
                .containsExactly(VideoDevice.RESP_OK_NODATA, VideoDevice.RESP_OK_NODATA);
            final VideoResource pages = backend.resources.get(10);
            assertThat(pages.planes()).isEqualTo(1);
            assertThat(pages.entries()).containsExactly(2);
            assertThat(pages.addresses()).as("the guest pages reach the back-end").containsExactly(a, b);
            assertThat(pages.lengths()).containsExactly(4096, 100);
            assertThat(backend.resources.get(20).addresses()).containsExactly(b + 4096);

            // Both queued buffers are held: no answer until the back-end reports them.
            final Posted bitstream = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 0x1234_5678_9AL, 777));
            final Posted frame = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 20, 0, 0));
            posted.add(bitstream);
            posted.add(frame);
            assertThat(Await.until(() -> backend.queued.size() == 2, WAIT)).isTrue();
            assertThat(backend.queued.getFirst()).isEqualTo(new ScriptedVideo.Queued(1, VideoDevice.QUEUE_TYPE_INPUT,
                10, 0x1234_5678_9AL, 777));
            // A command after them is answered (the queue is served), they are not.
            posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 1, 1)));
            final Answer twice = answers(ram, q, posted, 1).getFirst();
            assertThat(twice.type()).as("resource 10 is queued already").isEqualTo(
                VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(device.heldCommands()).isEqualTo(2);

            // The back-end reports the frame from its descriptor, on the worker, with no command to carry it.
            backend.nextSize = 3110;
            assertThat(backend.trigger.signal()).isTrue();
            final Answer decoded = answers(ram, q, posted, 1).getFirst();
            assertThat(decoded.head()).isEqualTo(frame.head());
            assertThat(decoded.usedLength()).isEqualTo(24);
            assertThat(decoded.type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(decoded.timestamp()).as("the bitstream's timestamp").isEqualTo(0x1234_5678_9AL);
            assertThat(decoded.flags()).isZero();
            assertThat(decoded.size()).isEqualTo(3110);
            assertThat(device.heldCommands()).isEqualTo(1);

            // Drain: the back-end reports the bitstream during it; its answer comes before the drain's.
            posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DRAIN, 1)));
            final List<Answer> drained = answers(ram, q, posted, 2);
            assertThat(drained.get(0).head()).isEqualTo(bitstream.head());
            assertThat(drained.get(0).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(drained.get(0).timestamp()).isEqualTo(0x1234_5678_9AL);
            assertThat(drained.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);

            // QUEUE_CLEAR of the input returns its held buffer flagged ERR, then answers; the output stays held.
            final Posted again = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 10, 77, 5));
            final Posted frame2 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 20, 0, 0));
            posted.add(again);
            posted.add(frame2);
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_QUEUE_CLEAR, 1, VideoDevice.QUEUE_TYPE_INPUT)));
            final List<Answer> cleared = answers(ram, q, posted, 2);
            assertThat(cleared.get(0).head()).isEqualTo(again.head());
            assertThat(cleared.get(0).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(cleared.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
            assertThat(cleared.get(0).timestamp()).isEqualTo(77);
            assertThat(cleared.get(0).size()).isZero();
            assertThat(cleared.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(device.heldCommands()).isEqualTo(1);

            // STREAM_DESTROY returns the held output flagged ERR before its own answer.
            posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DESTROY, 1)));
            final List<Answer> destroyed = answers(ram, q, posted, 2);
            assertThat(destroyed.get(0).head()).isEqualTo(frame2.head());
            assertThat(destroyed.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
            assertThat(destroyed.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(device.heldCommands()).isZero();
            assertThat(q.inFlight()).as("every chain came back").isZero();
        }
        finally
        {
            backend.close();
        }
    }
}
