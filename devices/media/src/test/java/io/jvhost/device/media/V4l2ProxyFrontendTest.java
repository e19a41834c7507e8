package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import io.jvhost.os.Errno;
import io.jvhost.vhostuser.frontend.Await;
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
 * {@link V4l2Proxy} in front of {@link FakeCaptureNode} (a fake capture driver: this machine has no V4L2 device),
 * behind the real vhost-user back-end, driven by the in-process front-end as the virtio-media driver drives it: the
 * host's frames arrive in the guest's USERPTR pages byte for byte, in order, with the host's sequence numbers, through
 * the device's watch of the host descriptor; and the hostile and failing cases.
 */
@Timeout(60)
class V4l2ProxyFrontendTest
{
    private static final UnaryOperator<VirtioSession.Builder> SESSION = b -> b.queues(2, 64);
    private static final int WIDTH = 64;
    private static final int HEIGHT = 48;
    private static final int SIZEIMAGE = WIDTH * HEIGHT * 2;

    @TempDir
    Path dir;

    private final FakeCaptureNode fake = new FakeCaptureNode();
    private MediaDevice device;
    private ServedDevice served;
    private final Map<Integer, Long> eventBuffers = new HashMap<>();

    private void start() throws Exception
    {
        device = new MediaDevice("media0", new V4l2Proxy(fake));
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

    /**
     * Checks that the guest pages {@code sg} (start, len pairs) hold frame {@code seq} of the fake's pattern.
     */
    private static void assertFrame(final GuestRam ram, final long[] sg, final int seq)
    {
        int at = 0;
        for (int i = 0; i < sg.length / 2 && at < SIZEIMAGE; i++)
        {
            final int n = (int)Math.min(sg[2 * i + 1], SIZEIMAGE - at);
            final byte[] part = ram.read(sg[2 * i], n);
            for (int k = 0; k < n; k++)
            {
                final int expected = FakeCaptureNode.patternByte(seq, at + k);
                if ((part[k] & 0xFF) != expected)
                {
                    throw new AssertionError("frame " + seq + ": byte " + (at + k) + " is " + (part[k] & 0xFF)
                        + ", the host captured " + expected);
                }
            }
            at += n;
        }
        assertThat(at).as("bytes checked").isEqualTo(SIZEIMAGE);
    }

    @Test
    void theHostsFramesArriveInTheGuestsBuffersInOrder() throws Exception
    {
        start();
        served.drive(16L << 20, 2, SESSION, (ram, fe, session) ->
        {
            session.start();
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, MediaDevice.CONFIG_SIZE));
            assertThat(config.get(LE32, 0)).as("the host's device_caps")
                .isEqualTo(V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING);
            assertThat(new String(fe.getConfig(8, FakeCaptureNode.CARD.length()), StandardCharsets.US_ASCII))
                .isEqualTo(FakeCaptureNode.CARD);
            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            final FrontendQueue eventq = session.queue(MediaDevice.EVENT_QUEUE);
            postEventBuffers(eventBuffers, ram, eventq, 8);

            final int id = send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).u32(8);
            final Answer cap = ioctl(ram, q, id, V4l2.QUERYCAP, new byte[0]);
            assertThat(cap.status()).isZero();
            assertThat(new String(cap.bytes().asSlice(8, 8).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII))
                .as("the host driver's name").isEqualTo("fake-uvc");
            final Answer tried = ioctl(ram, q, id, V4l2.TRY_FMT, format(9999, 9999, V4l2.PIX_FMT_YUYV));
            assertThat(new int[] {tried.u32(16), tried.u32(20)}).as("the host's clamping")
                .containsExactly(FakeCaptureNode.MAX_WIDTH, FakeCaptureNode.MAX_HEIGHT);
            final Answer set = ioctl(ram, q, id, V4l2.S_FMT, format(WIDTH, HEIGHT, V4l2.PIX_FMT_YUYV));
            assertThat(set.status()).isZero();
            assertThat(set.u32(8 + 28)).as("sizeimage").isEqualTo(SIZEIMAGE);

            assertThat(ioctl(ram, q, id, V4l2.REQBUFS, u32s(20, 2, V4l2.BUF_TYPE_VIDEO_CAPTURE, V4l2.MEMORY_MMAP))
                .status()).as("MMAP memory (needs SHMEM_MAP)").isEqualTo(Errno.EINVAL);
            final Answer reqbufs = ioctl(ram, q, id, V4l2.REQBUFS,
                u32s(20, 1, V4l2.BUF_TYPE_VIDEO_CAPTURE, V4l2.MEMORY_USERPTR));
            assertThat(reqbufs.status()).isZero();
            assertThat(reqbufs.u32(8)).as("count raised by the host to its minimum")
                .isEqualTo(FakeCaptureNode.MIN_BUFFERS);
            assertThat(reqbufs.u32(8 + 12)).as("capabilities: the host's, without MMAP")
                .isEqualTo(V4l2.BUF_CAP_SUPPORTS_USERPTR);
            assertThat(ioctl(ram, q, id, V4l2.S_FMT, format(32, 32, V4l2.PIX_FMT_YUYV)).status())
                .as("the host's EBUSY: S_FMT with buffers").isEqualTo(Errno.EBUSY);

            // Each buffer in two pieces, the second in the other memory region.
            final long[][] sgs = new long[2][];
            for (int i = 0; i < 2; i++)
            {
                final int first = 1000 + 100 * i;
                final long a = ram.allocate(first, 8);
                final long b = ram.allocateAt(ram.region(1).guestPhysAddr() + (1L << 20) * i, SIZEIMAGE - first);
                sgs[i] = new long[] {a, first, b, SIZEIMAGE - first};
                final Answer queued = ioctl(ram, q, id, V4l2.QBUF, qbuf(i, 0x7000_0000L + i, SIZEIMAGE, sgs[i]));
                assertThat(queued.status()).as("QBUF %d", i).isZero();
                assertThat(queued.u32(8 + 12) & V4l2.BUF_FLAG_QUEUED).as("the host's QUEUED flag").isNotZero();
                assertThat(queued.u64(8 + 64)).as("the guest's userptr, not the host's").isEqualTo(0x7000_0000L + i);
            }
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0, SIZEIMAGE, sgs[1])).status())
                .as("a buffer queued twice").isEqualTo(Errno.EINVAL);
            assertThat(fake.frame()).as("the sensor before STREAMON").isFalse();

            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            assertThat(fake.streaming()).isTrue();
            assertThat(fake.frame()).isTrue();
            assertThat(fake.frame()).isTrue();
            final Answer[] two = awaitEvents(eventBuffers, ram, eventq, 2);
            assertThat(fake.frame()).as("no buffer queued: the host drops frame 2").isFalse();
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0x7000_0000L, SIZEIMAGE, sgs[0])).status()).isZero();
            assertThat(fake.frame()).isTrue();
            final Answer third = awaitEvents(eventBuffers, ram, eventq, 1)[0];
            final Answer[] events = {two[0], two[1], third};
            final int[] index = {0, 1, 0};
            final int[] seq = {0, 1, 3};
            for (int i = 0; i < 3; i++)
            {
                final Answer e = events[i];
                assertThat(e.u32(0)).as("event").isEqualTo(MediaDevice.EVT_DQBUF);
                assertThat(e.u32(4)).as("session").isEqualTo(id);
                assertThat(e.u32(8)).as("index").isEqualTo(index[i]);
                assertThat(e.u32(8 + 4)).as("type").isEqualTo(V4l2.BUF_TYPE_VIDEO_CAPTURE);
                assertThat(e.u32(8 + 8)).as("bytesused").isEqualTo(SIZEIMAGE);
                assertThat(e.u32(8 + 12) & (V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_ERROR | V4l2.BUF_FLAG_QUEUED))
                    .isEqualTo(V4l2.BUF_FLAG_DONE);
                assertThat(e.u32(8 + 56)).as("the host's sequence").isEqualTo(seq[i]);
                assertThat(e.u64(8 + 24)).as("the host's timestamp").isEqualTo(1000 + seq[i]);
                assertThat(e.u32(8 + 60)).as("memory").isEqualTo(V4l2.MEMORY_USERPTR);
                assertThat(e.u64(8 + 64)).as("the guest's userptr").isEqualTo(0x7000_0000L + index[i]);
            }
            assertFrame(ram, sgs[1], 1);
            assertFrame(ram, sgs[0], 3);

            final Answer queried = ioctl(ram, q, id, V4l2.QUERYBUF, qbuf(1, 0, 0));
            assertThat(queried.status()).isZero();
            assertThat(queried.u32(8 + 12) & (V4l2.BUF_FLAG_QUEUED | V4l2.BUF_FLAG_DONE)).as("dequeued").isZero();
            assertThat(queried.u64(8 + 64)).as("userptr").isEqualTo(0x7000_0001L);
            assertThat(queried.u32(8 + 72)).as("length").isEqualTo(SIZEIMAGE);

            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0x7000_0001L, SIZEIMAGE, sgs[1])).status()).isZero();
            assertThat(ioctl(ram, q, id, V4l2.STREAMOFF, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            assertThat(fake.streaming()).isFalse();
            assertThat(ioctl(ram, q, id, V4l2.QUERYBUF, qbuf(1, 0, 0)).u32(8 + 12) & V4l2.BUF_FLAG_QUEUED)
                .as("STREAMOFF returned the queued buffer").isZero();
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0x7000_0001L, SIZEIMAGE, sgs[1])).status())
                .as("and it can be queued again").isZero();
            assertThat(fake.dequeues()).isEqualTo(3);
            assertThat(device.eventsSent()).isEqualTo(3);

            assertThat(send(ram, q, u32s(16, MediaDevice.CMD_CLOSE, 0, id), 0).usedLength()).isZero();
            assertThat(device.openSessions()).isZero();
        });
    }

    @Test
    void hostileBuffersAndHostErrors() throws Exception
    {
        start();
        served.drive(4L << 20, 1, SESSION, (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(MediaDevice.COMMAND_QUEUE);
            final FrontendQueue eventq = session.queue(MediaDevice.EVENT_QUEUE);
            postEventBuffers(eventBuffers, ram, eventq, 8);
            final int id = send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).u32(8);
            assertThat(ioctl(ram, q, id, V4l2.S_FMT, format(WIDTH, HEIGHT, V4l2.PIX_FMT_YUYV)).status()).isZero();
            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status())
                .as("the host's EINVAL: STREAMON without buffers").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.REQBUFS, u32s(20, 1000, V4l2.BUF_TYPE_VIDEO_CAPTURE,
                V4l2.MEMORY_USERPTR)).u32(8)).as("count lowered by the host").isEqualTo(FakeCaptureNode.MAX_BUFFERS);

            final long gpa = ram.allocate(SIZEIMAGE, 8);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, SIZEIMAGE - 1, gpa, SIZEIMAGE - 1)).status())
                .as("a guest buffer shorter than sizeimage").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, SIZEIMAGE, 0x7FFF_0000_0000L, SIZEIMAGE)).status())
                .as("SG outside guest RAM").isEqualTo(Errno.EFAULT);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, SIZEIMAGE, gpa, 4096)).status())
                .as("SG entries that do not cover the buffer").isEqualTo(Errno.EINVAL);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(FakeCaptureNode.MAX_BUFFERS, 0, SIZEIMAGE, gpa, SIZEIMAGE))
                .status()).as("an index beyond the host's count").isEqualTo(Errno.EINVAL);
            fake.failNext(V4l2.QBUF, Errno.ENOMEM);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, SIZEIMAGE, gpa, SIZEIMAGE)).status())
                .as("the host's ENOMEM, passed on").isEqualTo(Errno.ENOMEM);
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(0, 0, SIZEIMAGE, gpa, SIZEIMAGE)).status())
                .as("the failed buffer is still free").isZero();
            fake.failNext(V4l2.STREAMON, Errno.EIO);
            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status())
                .as("the host's EIO, passed on").isEqualTo(Errno.EIO);
            assertThat(fake.frame()).as("not streaming after a failed STREAMON").isFalse();

            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            final int opens = fake.opens();
            assertThat(send(ram, q, header(MediaDevice.CMD_OPEN, 8), 16).status()).isZero();
            assertThat(fake.opens()).as("a second session opens the node anew").isEqualTo(opens + 1);
            assertThat(fake.frame()).isTrue();
            assertFrame(ram, new long[] {gpa, SIZEIMAGE}, awaitEvents(eventBuffers, ram, eventq, 1)[0].u32(8 + 56));

            // The host queue fails (a camera unplugged): DQBUF EIO, the node stays readable. The proxy stops
            // watching it, logs once, and the worker does not spin on it.
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0, SIZEIMAGE, gpa, SIZEIMAGE)).status()).isZero();
            fake.breakQueue();
            assertThat(Await.until(() -> fake.dqbufErrors() > 0, WAIT)).as("DQBUF tried after the error").isTrue();
            assertThat(ioctl(ram, q, id, V4l2.G_FMT, format(0, 0, 0)).status()).as("a command round trip").isZero();
            final int tries = fake.dqbufErrors();
            assertThat(ioctl(ram, q, id, V4l2.G_FMT, format(0, 0, 0)).status()).isZero();
            assertThat(fake.dqbufErrors()).as("no DQBUF on a node in error after the first").isEqualTo(tries)
                .isEqualTo(1);
            assertThat(device.eventsSent()).isEqualTo(1);

            // STREAMOFF clears the host's error; streaming again delivers frames again.
            assertThat(ioctl(ram, q, id, V4l2.STREAMOFF, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0, SIZEIMAGE, gpa, SIZEIMAGE)).status()).isZero();
            assertThat(ioctl(ram, q, id, V4l2.STREAMON, u32s(4, V4l2.BUF_TYPE_VIDEO_CAPTURE)).status()).isZero();
            assertThat(fake.frame()).isTrue();
            final Answer after = awaitEvents(eventBuffers, ram, eventq, 1)[0];
            assertThat(after.u32(8)).isEqualTo(1);
            assertThat(after.u32(8 + 56)).as("the host's sequence restarts").isZero();
            assertFrame(ram, new long[] {gpa, SIZEIMAGE}, 0);

            // CLOSE while streaming with a buffer queued: the host file is closed (its queue stops), nothing follows.
            assertThat(ioctl(ram, q, id, V4l2.QBUF, qbuf(1, 0, SIZEIMAGE, gpa, SIZEIMAGE)).status()).isZero();
            assertThat(send(ram, q, u32s(16, MediaDevice.CMD_CLOSE, 0, id), 0).usedLength()).isZero();
            assertThat(fake.streaming()).as("the host queue after CLOSE").isFalse();
            assertThat(fake.frame()).isFalse();
            assertThat(ioctl(ram, q, id, V4l2.G_FMT, format(0, 0, 0)).status()).isEqualTo(Errno.EINVAL);
            assertThat(device.eventsSent()).isEqualTo(2);
        });
    }
}
