package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import io.jvhost.os.Errno;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.media.MediaDriverKit.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link MediaDevice} with the {@link TestPatternCapture} back-end behind the real vhost-user back-end, driven by the
 * in-process front-end as the virtio-media driver drives it: a capture session (open, set the format, queue the
 * guest's buffers, stream, receive DQBUF events whose buffers hold the pattern), and hostile commands.
 */
@Timeout(60)
class MediaFrontendTest
{
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(2, 64);

    @TempDir
    Path dir;

    private MediaDevice device;
    private ServedDevice served;
    private final Map<Integer, Long> eventBuffers = new HashMap<>();

    private void start() throws Exception
    {
        device = new MediaDevice("media0", new TestPatternCapture());
        served = ServedDevice.serve("media0", device, dir.resolve("media.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
    }

    private static void assertPattern(final GuestRam ram, final long[] sg, final int width, final int height,
        final int pixelformat, final int seq)
    {
        final int bpl = width * (pixelformat == V4l2.PIX_FMT_RGB24 ? 3 : 2);
        final byte[] frame = new byte[bpl * height];
        int at = 0;
        for (int i = 0; i < sg.length / 2 && at < frame.length; i++)
        {
            final int n = (int)Math.min(sg[2 * i + 1], frame.length - at);
            final byte[] part = ram.read(sg[2 * i], n);
            System.arraycopy(part, 0, frame, at, n);
            at += n;
        }
        for (int y = 0; y < height; y++)
        {
            for (int o = 0; o < bpl; o++)
            {
                final int expected = TestPatternCapture.patternByte(pixelformat, seq, y, o);
                if ((frame[y * bpl + o] & 0xFF) != expected)
                {
                    throw new AssertionError("frame " + seq + ": byte " + o + " of row " + y + " is "
                        + (frame[y * bpl + o] & 0xFF) + ", the pattern has " + expected);
                }
            }
        }
    }

    @Test
    void aCaptureSessionStreamsThePatternIntoTheGuestsBuffers() throws Exception
    {
        start();
        served.drive(16L << 20, 2, SESSION, (ram, fe, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("the common vhost-device features").isEqualTo(0x1_7100_0000L);
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, MediaDevice.CONFIG_SIZE));
            assertThat(config.get(LE32, 0)).as("device_caps").isEqualTo(V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING);
            assertThat(config.get(LE32, 4)).as("device_type").isEqualTo(V4l2.VFL_TYPE_VIDEO);
            assertThat(new String(fe.getConfig(8, 19), StandardCharsets.US_ASCII)).isEqualTo(TestPatternCapture.CARD);

            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            final FrontendQueue eventq = session.queue(MediaDevice.EVENT_QUEUE);
            postEventBuffers(eventBuffers, ram, eventq, 2);

            final Answer opened = send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16);
            assertThat(opened.usedLength()).isEqualTo(16);
            assertThat(opened.status()).isZero();
            final int id = opened.u32(8);

            final Answer cap = ioctl(ram, q, id, V4l2.QUERYCAP, new byte[0]);
            assertThat(cap.usedLength()).isEqualTo(8 + 104);
            assertThat(cap.status()).isZero();
            assertThat(cap.u32(8 + 88)).as("device_caps").isEqualTo(V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING);

            final Answer fmt0 = ioctl(ram, q, id, V4l2.ENUM_FMT, u32s(64, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE));
            assertThat(fmt0.status()).isZero();
            assertThat(fmt0.u32(8 + 44)).isEqualTo(V4l2.PIX_FMT_YUYV);
            final Answer fmt1 = ioctl(ram, q, id, V4l2.ENUM_FMT, u32s(64, 1, V4l2.BUF_TYPE_VIDEO_CAPTURE));
            assertThat(fmt1.u32(8 + 44)).isEqualTo(V4l2.PIX_FMT_RGB24);
            final Answer fmt2 = ioctl(ram, q, id, V4l2.ENUM_FMT, u32s(64, 2, V4l2.BUF_TYPE_VIDEO_CAPTURE));
            assertThat(fmt2.status()).as("past the last format").isEqualTo(Errno.EINVAL);
            assertThat(fmt2.usedLength()).as("no payload after an error").isEqualTo(8);

            final Answer sizes = ioctl(ram, q, id, V4l2.ENUM_FRAMESIZES, u32s(44, 0, V4l2.PIX_FMT_RGB24));
            assertThat(sizes.status()).isZero();
            assertThat(new int[] {sizes.u32(8 + 8), sizes.u32(8 + 12), sizes.u32(8 + 16), sizes.u32(8 + 28)})
                .as("stepwise 16..1280 x ..720").containsExactly(3, 16, TestPatternCapture.MAX_WIDTH,
                    TestPatternCapture.MAX_HEIGHT);
            assertThat(ioctl(ram, q, id, V4l2.ENUM_FRAMESIZES, u32s(44, 1, V4l2.PIX_FMT_RGB24)).status())
                .isEqualTo(Errno.EINVAL);
            final Answer input = ioctl(ram, q, id, V4l2.ENUMINPUT, u32s(80, 0));
            assertThat(input.status()).isZero();
            assertThat(new String(input.bytes().asSlice(8 + 4, 12).toArray(ValueLayout.JAVA_BYTE),
                StandardCharsets.US_ASCII)).isEqualTo("Test pattern");
            assertThat(input.u32(8 + 36)).as("camera").isEqualTo(2);
            assertThat(ioctl(ram, q, id, V4l2.ENUMINPUT, u32s(80, 1)).status()).isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.S_INPUT, u32s(4, 1)).status()).isEqualTo(Errno.EINVAL);
            final Answer defaults = ioctl(ram, q, id, V4l2.G_FMT, format(0, 0, 0));
            assertThat(defaults.u32(8 + 8)).isEqualTo(640);
            assertThat(defaults.u32(8 + 16)).isEqualTo(V4l2.PIX_FMT_YUYV);
            final Answer tried = ioctl(ram, q, id, V4l2.TRY_FMT, format(99_999, 3, V4l2.fourcc("H264")));
            assertThat(tried.status()).isZero();
            assertThat(new int[] {tried.u32(16), tried.u32(20), tried.u32(24)}).as("clamped, unknown format to YUYV")
                .containsExactly(TestPatternCapture.MAX_WIDTH, TestPatternCapture.MIN_SIZE, V4l2.PIX_FMT_YUYV);
            final int width = 160;
            final int height = 120;
            final Answer set = ioctl(ram, q, id, V4l2.S_FMT, format(width, height, V4l2.PIX_FMT_RGB24));
            assertThat(set.status()).isZero();
            assertThat(set.u32(8 + 24)).as("bytesperline").isEqualTo(width * 3);
            final int sizeimage = set.u32(8 + 28);
            assertThat(sizeimage).isEqualTo(width * height * 3);

            assertThat(ioctl(ram, q, id, V4l2.REQBUFS, u32s(20, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE, V4l2.MEMORY_MMAP))
                .status()).as("MMAP memory (needs SHMEM_MAP)").isEqualTo(Errno.EINVAL);
            final Answer reqbufs = ioctl(ram, q, id, V4l2.REQBUFS,
                u32s(20, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE, V4l2.MEMORY_USERPTR));
            assertThat(reqbufs.status()).isZero();
            assertThat(reqbufs.u32(8)).as("count").isEqualTo(4);
            assertThat(reqbufs.u32(8 + 12)).as("capabilities").isEqualTo(V4l2.BUF_CAP_SUPPORTS_USERPTR);
            assertThat(ioctl(ram, q, id, V4l2.S_FMT, format(320, 240, V4l2.PIX_FMT_YUYV)).status())
                .as("S_FMT with buffers allocated").isEqualTo(Errno.EBUSY);

            // Each buffer in two pieces far apart in guest memory, the second in the other memory region.
            final long[][] sgs = new long[4][];
            for (int i = 0; i < 4; i++)
            {
                final int first = 4096 + 100 * i;
                final long a = ram.allocate(first, 8);
                final long b = ram.allocateAt(ram.region(1).guestPhysAddr() + (1L << 20) * i, sizeimage - first);
                sgs[i] = new long[] {a, first, b, sizeimage - first};
                final Answer queued = ioctl(ram, q, id, V4l2.QBUF, qbuf(i, 0x7000_0000L + i, sizeimage, sgs[i]));
                assertThat(queued.status()).as("QBUF %d", i).isZero();
                assertThat(queued.u32(8 + 12) & V4l2.BUF_FLAG_QUEUED).isNotZero();
                assertThat(queued.u64(8 + 64)).as("userptr returned unchanged").isEqualTo(0x7000_0000L + i);
            }
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0, sizeimage, sgs[1])).status())
                .as("a buffer queued twice").isEqualTo(Errno.EINVAL);
            assertThat(eventq.pollUsed()).as("no frame before STREAMON").isZero();

            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            // Two event buffers for four frames: two events now, the others wait for the driver's next buffers.
            final Answer[] first = awaitEvents(eventBuffers, ram, eventq, 2);
            assertThat(ioctl(ram, q, id, V4l2.G_INPUT, new byte[0]).status()).as("a command between").isZero();
            assertThat(eventq.pollUsed()).as("no event without an event buffer").isZero();
            postEventBuffers(eventBuffers, ram, eventq, 14);
            final Answer[] rest = awaitEvents(eventBuffers, ram, eventq, 2);
            final Answer[] frames = {first[0], first[1], rest[0], rest[1]};
            for (int seq = 0; seq < 4; seq++)
            {
                final Answer e = frames[seq];
                assertThat(e.usedLength()).isEqualTo(MediaDevice.DQBUF_EVENT_SIZE);
                assertThat(e.u32(0)).as("event").isEqualTo(MediaDevice.EVT_DQBUF);
                assertThat(e.u32(4)).as("session").isEqualTo(id);
                assertThat(e.u32(8)).as("index, in queue order").isEqualTo(seq);
                assertThat(e.u32(8 + 8)).as("bytesused").isEqualTo(sizeimage);
                assertThat(e.u32(8 + 12) & (V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_ERROR)).isEqualTo(V4l2.BUF_FLAG_DONE);
                assertThat(e.u32(8 + 56)).as("sequence").isEqualTo(seq);
                assertThat(e.u64(8 + 64)).as("no pointer leaks into the event").isZero();
                assertPattern(ram, sgs[seq], width, height, V4l2.PIX_FMT_RGB24, seq);
            }

            // Requeued while streaming: filled at once with the next frame.
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(2, 0, sizeimage, sgs[2])).status()).isZero();
            final Answer again = awaitEvents(eventBuffers, ram, eventq, 1)[0];
            assertThat(again.u32(8)).isEqualTo(2);
            assertThat(again.u32(8 + 56)).isEqualTo(4);
            assertPattern(ram, sgs[2], width, height, V4l2.PIX_FMT_RGB24, 4);

            final Answer queried = ioctl(ram, q, id, V4l2.QUERYBUF, qbuf(2, 0, 0));
            assertThat(queried.status()).isZero();
            assertThat(queried.u32(8 + 72)).as("length").isEqualTo(sizeimage);
            assertThat(ioctl(ram, q, id, V4l2.STREAMOFF, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();

            final Answer closed = send(ram, q, u32s(16, MediaDevice.CMD_CLOSE, 0, id), 0);
            assertThat(closed.usedLength()).as("CLOSE has no answer").isZero();
            assertThat(device.openSessions()).isZero();
            assertThat(ioctl(ram, q, id, V4l2.G_FMT, format(0, 0, 0)).status()).as("a closed session")
                .isEqualTo(Errno.EINVAL);
        });
    }

    @Test
    void hostileCommandsGetTheProtocolsErrors() throws Exception
    {
        start();
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            final int id = send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).u32(8);

            assertThat(ioctl(ram, q, id + 1000, V4l2.G_FMT, format(0, 0, 0)).status()).as("unknown session")
                .isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, 100, new byte[8]).status()).as("unknown ioctl").isEqualTo(MediaDevice.ENOTTY);
            assertThat(ioctl(ram, q, id, -1, new byte[8]).status()).as("ioctl code 0xffffffff")
                .isEqualTo(MediaDevice.ENOTTY);
            assertThat(ioctl(ram, q, id, V4l2.DQBUF, new byte[88]).status()).as("DQBUF is an event")
                .isEqualTo(MediaDevice.ENOTTY);
            assertThat(ioctl(ram, q, id, V4l2.G_PARM, new byte[204]).status()).as("known, but not for this device")
                .isEqualTo(MediaDevice.ENOTTY);
            assertThat(send(ram, q, header(99, 8), 8).status()).as("unknown command").isEqualTo(MediaDevice.ENOTTY);
            assertThat(send(ram, q, new byte[4], 8).status()).as("half a header").isEqualTo(Errno.EINVAL);
            assertThat(send(ram, q, ioctl(id, V4l2.S_FMT, new byte[100]), 8 + 208).status())
                .as("a v4l2_format of 100 bytes").isEqualTo(Errno.EINVAL);
            assertThat(send(ram, q, ioctl(id, V4l2.G_FMT, format(0, 0, 0)), 8 + 100).status())
                .as("no room for the answer's payload").isEqualTo(Errno.EINVAL);
            assertThat(send(ram, q, header(MediaDevice.CMD_OPEN, 8), 4).usedLength())
                .as("no room for a header: returned empty").isZero();
            assertThat(send(ram, q, u32s(20, MediaDevice.CMD_MMAP, 0, id, 1, 0), 24).status())
                .as("MMAP: no MMAP buffers").isEqualTo(Errno.EINVAL);
            assertThat(send(ram, q, u32s(20, MediaDevice.CMD_MMAP, 0, id + 7, 1, 0), 24).status())
                .as("MMAP on an unknown session").isEqualTo(Errno.EINVAL);
            assertThat(send(ram, q, u32s(16, MediaDevice.CMD_MUNMAP, 0, 0x1000, 0), 8).status())
                .as("MUNMAP of nothing").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.REQBUFS, u32s(20, 1000, V4l2.BUF_TYPE_VIDEO_CAPTURE,
                V4l2.MEMORY_USERPTR)).u32(8)).as("count bounded").isEqualTo(TestPatternCapture.MAX_BUFFERS);
            final int size = 640 * 480 * 2;
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, size, 0x7FFF_0000_0000L, size)).status())
                .as("a buffer outside guest memory").isEqualTo(Errno.EFAULT);
            final long gpa = ram.allocate(4096, 8);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, size, gpa, 4096)).status())
                .as("SG entries that do not cover the buffer").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, size, gpa, 0)).status())
                .as("an empty SG entry").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, 100, gpa, 100)).status())
                .as("a buffer shorter than sizeimage").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(TestPatternCapture.MAX_BUFFERS, 0, size, gpa, size))
                .status()).as("an index out of range").isEqualTo(Errno.EINVAL);

            for (int i = 0; i < TestPatternCapture.MAX_SESSIONS - 1; i++)
            {
                assertThat(send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).status()).isZero();
            }
            assertThat(send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).status()).as("one session too many")
                .isEqualTo(Errno.EBUSY);
            assertThat(device.openSessions()).isEqualTo(TestPatternCapture.MAX_SESSIONS);
            assertThat(device.refusedCommands()).isPositive();
        });
    }

    @Test
    void theNextFrontEndFindsNoSessionOfThePreviousOne() throws Exception
    {
        start();
        final int[] id = new int[1];
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            id[0] = send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).u32(8);
            assertThat(ioctl(ram, q, id[0], V4l2.REQBUFS, u32s(20, 2, V4l2.BUF_TYPE_VIDEO_CAPTURE, V4l2.MEMORY_USERPTR))
                .status()).isZero();
            assertThat(device.openSessions()).isEqualTo(1);
        });
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            assertThat(ioctl(ram, q, id[0], V4l2.G_FMT, format(0, 0, 0)).status()).as("the old session")
                .isEqualTo(Errno.EINVAL);
            assertThat(device.openSessions()).isZero();
            assertThat(send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).status()).isZero();
        });
    }
}
