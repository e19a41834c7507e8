package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.os.DeviceNode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the media commandq as {@link MediaCommandFuzzTest} does, through {@link V4l2Proxy} in front of
 * {@link FakeCaptureNode}: after each serve the fake's sensor delivers a frame and every watch's callback runs (the
 * host's dequeues, copied into whatever guest memory the QBUF named). Each input starts with session 0 streaming
 * 16x16 YUYV with two USERPTR buffers (else few inputs get a frame through). Besides that harness's checks: no watch is left
 * once the device is reset, and the reset closed every host file of the input. The device and its proxy are built once
 * and reset after each input (a driver's reset, which closes every session as a guest's CLOSE would); each input has a
 * new fake node behind them, so that no camera state (format, frame sequence) carries over.
 */
class V4l2ProxyFuzzTest
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final PerInputNode NODE = new PerInputNode();
    private static final Runnable[] WATCHED = new Runnable[V4l2Proxy.MAX_SESSIONS];
    private static MediaDevice device;

    /** The node the proxy was made with: each input's {@link FakeCaptureNode} behind it. */
    private static final class PerInputNode implements DeviceNode
    {
        FakeCaptureNode fake = new FakeCaptureNode();

        @Override
        public int open()
        {
            return fake.open();
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            return fake.ioctl(fd, request, arg);
        }

        @Override
        public void close(final int fd)
        {
            fake.close(fd);
        }

        @Override
        public String toString()
        {
            return fake.toString();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void everyCommandIsAnsweredOnceWithADefinedStatus(final FuzzedDataProvider data) throws Exception
    {
        final FakeCaptureNode fake = new FakeCaptureNode();
        NODE.fake = fake;
        final Runnable[] watched = WATCHED;
        if (null == device)
        {
            device = attached(new MediaDevice("fuzz", new V4l2Proxy(NODE)));
        }
        final MediaDevice media = device;
        try
        {
            MediaCommandFuzzTest.start(media);
            streaming(media);
            MediaCommandFuzzTest.commands(data, media, () ->
            {
                fake.frame();
                for (final Runnable r : watched)
                {
                    if (null != r)
                    {
                        r.run();
                    }
                }
            }, V4l2Proxy.MAX_SESSIONS);
        }
        finally
        {
            media.reset();
        }
        assertThat(watched).as("watches left after the sessions closed").containsOnlyNulls();
        assertThat(fake.openFiles()).as("host files open after the reset").isZero();
    }

    private static MediaDevice attached(final MediaDevice media)
    {
        final Runnable[] watched = WATCHED;
        media.attach(new DeviceContext()
        {
            @Override
            public void wake(final int queue)
            {
            }

            @Override
            public FdWatch watch(final int queue, final int fd, final Runnable onReadable)
            {
                for (int i = 0; i < watched.length; i++)
                {
                    if (null == watched[i])
                    {
                        final int slot = i;
                        watched[i] = onReadable;
                        return () -> watched[slot] = null;
                    }
                }
                throw new AssertionError("more watches than sessions");
            }
        });
        return media;
    }

    /**
     * Session 0 streaming 16x16 YUYV (512 bytes) with two USERPTR buffers, so that a fuzzed QBUF can reach the host
     * and its frame come back.
     */
    private static void streaming(final MediaDevice media)
    {
        final QueueFuzzer queue = MediaCommandFuzzTest.QUEUE;
        queue.add(u32s(8, MediaDevice.CMD_OPEN), 16);
        final byte[] format = u32s(16 + 208, MediaDevice.CMD_IOCTL, 0, 0, V4l2.S_FMT, V4l2.BUF_TYPE_VIDEO_CAPTURE, 0,
            16, 16, V4l2.PIX_FMT_YUYV);
        queue.add(format, 8 + 208);
        queue.add(u32s(16 + 20, MediaDevice.CMD_IOCTL, 0, 0, V4l2.REQBUFS, 2, V4l2.BUF_TYPE_VIDEO_CAPTURE,
            V4l2.MEMORY_USERPTR), 8 + 20);
        queue.add(u32s(16 + 4, MediaDevice.CMD_IOCTL, 0, 0, V4l2.STREAMON, V4l2.BUF_TYPE_VIDEO_CAPTURE), 8);
        for (final long u : queue.serve(media))
        {
            assertThat(u & 0xFFFF_FFFFL).as("set-up command answered").isGreaterThanOrEqualTo(8);
        }
        assertThat(media.openSessions()).isOne();
    }

    private static byte[] u32s(final int size, final int... values)
    {
        final byte[] b = new byte[size];
        for (int i = 0; i < values.length; i++)
        {
            MemorySegment.ofArray(b).set(LE32, 4L * i, values[i]);
        }
        return b;
    }
}
