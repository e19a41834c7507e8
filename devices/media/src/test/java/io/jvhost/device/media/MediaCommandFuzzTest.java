package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the media commandq with any commands (a real command or any other, sessions open or not, any ioctl code,
 * payloads with valid or any fields, QBUF with SG entries into guest memory or anywhere, cut into any buffers)
 * against the test-pattern capture back-end, which writes frames into the guest buffers it is given. Besides
 * QueueFuzzer's checks: every command is answered in the same serve, CLOSE and chains without room for a header with
 * nothing, every other with a status 0 or one of the errnos the device and back-end use, of the size its command's
 * answer has when 0; open sessions never exceed the limit. {@link V4l2ProxyFuzzTest} sends the same through the v4l2
 * proxy in front of a fake capture node.
 */
class MediaCommandFuzzTest
{
    static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] CODES = {V4l2.QUERYCAP, V4l2.ENUM_FMT, V4l2.G_FMT, V4l2.S_FMT, V4l2.REQBUFS,
        V4l2.QUERYBUF, V4l2.QBUF, V4l2.DQBUF, V4l2.STREAMON, V4l2.STREAMOFF, V4l2.G_PARM, V4l2.ENUMINPUT,
        V4l2.G_INPUT, V4l2.S_INPUT, V4l2.TRY_FMT, V4l2.ENUM_FRAMESIZES, V4l2.ENUM_FRAMEINTERVALS};

    @FuzzTest(maxDuration = "30s")
    void everyCommandIsAnsweredOnceWithADefinedStatus(final FuzzedDataProvider data)
    {
        final MediaDevice media = new MediaDevice("fuzz", new TestPatternCapture());
        fuzz(data, media, () -> { }, TestPatternCapture.MAX_SESSIONS);
    }

    /**
     * {@link #start}, then {@link #commands}.
     */
    static void fuzz(final FuzzedDataProvider data, final MediaDevice media, final Runnable afterServe,
        final int maxSessions)
    {
        start(media);
        commands(data, media, afterServe, maxSessions);
    }

    /**
     * Resets the fuzzer's queue and acknowledges the device's features (before {@link #commands}).
     */
    static void start(final MediaDevice media)
    {
        QUEUE.reset(MediaDevice.COMMAND_QUEUE, 0);
        QUEUE.allowAllWrites();
        media.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
    }

    /**
     * Sends the inputs' commands to a started {@code media}, checking each answer; runs {@code afterServe} after each
     * serve.
     */
    static void commands(final FuzzedDataProvider data, final MediaDevice media, final Runnable afterServe,
        final int maxSessions)
    {
        final int[] cmdOf = new int[QueueFuzzer.SIZE];
        final int[] codeOf = new int[QueueFuzzer.SIZE];
        while (data.remainingBytes() > 0)
        {
            final int commands = data.consumeInt(1, 6);
            for (int i = 0; i < commands; i++)
            {
                final byte[] command = command(data);
                final int head = QUEUE.add(data, command, 320);
                if (head >= 0)
                {
                    cmdOf[head] = command.length >= 8 ? MemorySegment.ofArray(command).get(LE32, 0) : -1;
                    codeOf[head] = command.length >= 16 ? MemorySegment.ofArray(command).get(LE32, 12) : -1;
                }
            }
            for (final long u : QUEUE.serve(media))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                if (QUEUE.writableBytes(head) < 8 || cmdOf[head] == MediaDevice.CMD_CLOSE)
                {
                    assertThat(length).as("command %d without an answer", head).isZero();
                    continue;
                }
                assertThat(length).as("command %d", head).isGreaterThanOrEqualTo(8);
                final int status = MemorySegment.ofArray(QUEUE.written(head, length)).get(LE32, 0);
                assertThat(status).as("status of command %d", head).isIn(0, Errno.EINVAL, Errno.EFAULT, Errno.EBUSY,
                    MediaDevice.ENOTTY);
                if (status != 0)
                {
                    assertThat(length).as("error answer of command %d", head).isEqualTo(8);
                }
                else
                {
                    assertThat(length).as("OK answer of command %d (cmd %d, code %d)", head, cmdOf[head],
                        codeOf[head]).isEqualTo(okSize(cmdOf[head], codeOf[head]));
                }
            }
            assertThat(QUEUE.outstanding()).as("commands left unanswered").isZero();
            assertThat(media.openSessions()).isBetween(0, maxSessions);
            afterServe.run();
        }
        QUEUE.finish();
    }

    private static long okSize(final int cmd, final int code)
    {
        if (cmd == MediaDevice.CMD_OPEN)
        {
            return 16;
        }
        return 8 + ((V4l2.direction(code) & V4l2.DIR_READ) != 0 ? V4l2.payloadSize(code) : 0);
    }

    private static byte[] command(final FuzzedDataProvider data)
    {
        if (data.consumeBoolean())
        {
            return data.consumeBytes(data.consumeInt(0, 64));
        }
        final int cmd = data.consumeBoolean() ? data.consumeInt(1, 5) : data.consumeInt();
        final int session = data.consumeInt(0, 3);
        if (cmd != MediaDevice.CMD_IOCTL)
        {
            final byte[] b = new byte[data.consumeInt(8, 24)];
            final MemorySegment s = MemorySegment.ofArray(b);
            s.set(LE32, 0, cmd);
            if (b.length >= 12)
            {
                s.set(LE32, 8, session);
            }
            return b;
        }
        final int code = data.consumeBoolean() ? CODES[data.consumeInt(0, CODES.length - 1)] : data.consumeInt();
        final int size = Math.max(0, V4l2.payloadSize(code));
        final int sgCount = code == V4l2.QBUF ? data.consumeInt(0, 4) : 0;
        final int length = data.consumeBoolean() ? 16 + size + 16 * sgCount : data.consumeInt(0, 16 + size + 40);
        final byte[] b = new byte[Math.max(16, length)];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, MediaDevice.CMD_IOCTL);
        s.set(LE32, 8, session);
        s.set(LE32, 12, code);
        final byte[] payload = data.consumeBytes(Math.min(size, b.length - 16));
        System.arraycopy(payload, 0, b, 16, payload.length);
        if (b.length >= 16 + 4 && data.consumeBoolean())
        {
            // A valid buffer type where the structure has it: first field (formats, STREAMON) or second.
            final int at = code == V4l2.ENUM_FMT || code == V4l2.REQBUFS || code == V4l2.QBUF
                || code == V4l2.QUERYBUF ? 20 : 16;
            if (b.length >= at + 4)
            {
                s.set(LE32, at, V4l2.BUF_TYPE_VIDEO_CAPTURE);
            }
        }
        if (code == V4l2.S_FMT && b.length >= 16 + 20)
        {
            s.set(LE32, 16 + 8, data.consumeInt(0, 40));
            s.set(LE32, 16 + 12, data.consumeInt(0, 40));
        }
        if (code == V4l2.REQBUFS && b.length >= 16 + 12 && data.consumeBoolean())
        {
            s.set(LE32, 16, data.consumeInt(0, 4));
            s.set(LE32, 16 + 8, V4l2.MEMORY_USERPTR);
        }
        if (code == V4l2.QBUF && b.length >= 16 + 88)
        {
            s.set(LE32, 16, data.consumeInt(0, 4));
            s.set(LE32, 16 + 60, V4l2.MEMORY_USERPTR);
            int total = 0;
            for (int i = 0; i < sgCount && b.length >= 16 + 88 + 16 * (i + 1); i++)
            {
                final int len = data.consumeInt(0, 2048);
                final long gpa = data.consumeBoolean() ? QUEUE.allocate(Math.max(1, len), (byte)0) : data.consumeLong();
                s.set(LE64, 16 + 88 + 16L * i, gpa);
                s.set(LE32, 16 + 88 + 16L * i + 8, len);
                total += len;
            }
            s.set(LE32, 16 + 72, data.consumeBoolean() ? total : data.consumeInt());
        }
        return b;
    }
}
