package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the media commandq as {@link MediaCommandFuzzTest} does, through {@link V4l2Proxy} in front of
 * {@link FakeCaptureNode}: after each serve the fake's sensor delivers a frame and every watch's callback runs (the
 * host's dequeues, copied into whatever guest memory the QBUF named). Each input starts with session 0 streaming
 * 16x16 YUYV with two USERPTR buffers (else few inputs get a frame through). Besides that harness's checks: no watch is left
 * once the device is reset, and the device and its host files are closed after each input.
 */
class V4l2ProxyFuzzTest
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @FuzzTest(maxDuration = "30s")
    void everyCommandIsAnsweredOnceWithADefinedStatus(final FuzzedDataProvider data) throws Exception
    {
        final FakeCaptureNode fake = new FakeCaptureNode();
        final Runnable[] watched = new Runnable[V4l2Proxy.MAX_SESSIONS];
        final MediaDevice media = new MediaDevice("fuzz", new V4l2Proxy(fake));
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
            media.close();
        }
        assertThat(watched).as("watches left after the sessions closed").containsOnlyNulls();
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
