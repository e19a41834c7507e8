package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.os.DeviceNode;
import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.NativeException;

/**
 * A fake V4L2 stateful memory-to-memory decoder behind {@link DeviceNode} (the approach of devices/media's
 * FakeCaptureNode), answering the structures in their native 64-bit layout with the kernel's rules. Requests are
 * checked by their full {@code _IOC} number (anything else ENOTTY). Each open file is its own decoding context, as
 * with v4l2-mem2mem:
 * <ul>
 *   <li>QUERYCAP: card {@value #CARD}, VIDEO_M2M | STREAMING, with DEVICE_CAPS.</li>
 *   <li>ENUM_FMT: OUTPUT H264, JPEG (which draft v3 does not name), VP80; CAPTURE NV12. ENUM_FRAMESIZES: the coded
 *       formats stepwise 16..1920 x 16..1088 in steps of 16, NV12 discrete {@value #WIDTH}x{@value #HEIGHT}.</li>
 *   <li>S_FMT of the OUTPUT queue: H264 or VP80 (else EINVAL), EBUSY once its buffers are allocated. The CAPTURE
 *       format is fixed: NV12 {@value #WIDTH}x{@value #HEIGHT}, sizeimage {@value #SIZEIMAGE} (G_FMT; S_FMT of another
 *       pixel format EINVAL).</li>
 *   <li>REQBUFS: OUTPUT or CAPTURE, USERPTR only (else EINVAL), EBUSY while streaming; count 0 frees, otherwise it
 *       is lowered to {@value #MAX_BUFFERS}.</li>
 *   <li>QBUF: index in range and not queued (EINVAL), userptr not 0 (EFAULT), a CAPTURE buffer at least sizeimage
 *       long and an OUTPUT buffer's bytesused at most its length (EINVAL).</li>
 *   <li>{@link #decode} (the hardware's work, from the test's thread): while both queues stream and each has a
 *       queued buffer, the oldest bitstream becomes one frame, byte i = {@link #frameByte}, in the oldest CAPTURE
 *       buffer, with the bitstream's timestamp (TIMESTAMP_COPY) and KEYFRAME when the bitstream's first byte is
 *       even; both buffers are then done.</li>
 *   <li>DECODER_CMD STOP: once no bitstream is pending, the next CAPTURE buffer comes back empty flagged LAST; after
 *       it is dequeued, DQBUF of CAPTURE is EPIPE until DECODER_CMD START or STREAMOFF.</li>
 *   <li>DQBUF: EINVAL when not streaming, EAGAIN when nothing is done. STREAMON without buffers EINVAL; STREAMOFF
 *       returns every buffer of that queue.</li>
 *   <li>The descriptor is an eventfd readable exactly when a CAPTURE buffer is done (v4l2-mem2mem's POLLIN).</li>
 * </ul>
 * {@link #failNext} makes the next ioctl of a number fail with an errno. Thread-safe.
 */
final class FakeDecoderNode implements DeviceNode
{
    static final String CARD = "jvhost fake decoder";
    static final int WIDTH = 64;
    static final int HEIGHT = 48;
    static final int SIZEIMAGE = WIDTH * HEIGHT * 3 / 2;
    static final int MAX_BUFFERS = 16;
    static final int NV12 = V4l2Decoder.fourcc("NV12");

    private static final int OUTPUT = V4l2Decoder.BUF_TYPE_VIDEO_OUTPUT;
    private static final int CAPTURE = V4l2Decoder.BUF_TYPE_VIDEO_CAPTURE;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    /** One V4L2 queue of a context. */
    private static final class Q
    {
        int count;
        boolean streaming;
        final long[] userptr = new long[MAX_BUFFERS];
        /** The memory at each buffer's userptr, made again only when the userptr or length changes. */
        final MemorySegment[] memory = new MemorySegment[MAX_BUFFERS];
        final int[] length = new int[MAX_BUFFERS];
        final int[] bytesused = new int[MAX_BUFFERS];
        final long[] sec = new long[MAX_BUFFERS];
        final long[] usec = new long[MAX_BUFFERS];
        final int[] flags = new int[MAX_BUFFERS];
        final boolean[] queued = new boolean[MAX_BUFFERS];
        final boolean[] done = new boolean[MAX_BUFFERS];
        /** Indexes in the order queued / done. */
        final java.util.ArrayDeque<Integer> pending = new java.util.ArrayDeque<>();
        final java.util.ArrayDeque<Integer> finished = new java.util.ArrayDeque<>();

        void clear()
        {
            java.util.Arrays.fill(queued, false);
            java.util.Arrays.fill(done, false);
            pending.clear();
            finished.clear();
        }
    }

    /** An open file: a decoding context. */
    private static final class Context
    {
        final EventFd file;
        final Q output = new Q();
        final Q capture = new Q();
        int codedFormat = V4l2Decoder.fourcc("H264");
        /** Whether {@link #file} is signalled (only this fake reads or writes it). */
        boolean signalled;
        boolean stopping;
        boolean lastDequeued;

        Context(final EventFd file)
        {
            this.file = file;
        }

        Q q(final int type)
        {
            return type == OUTPUT ? output : type == CAPTURE ? capture : null;
        }
    }

    /** Contexts by descriptor (an array, so that looking one up allocates nothing). */
    private final Context[] files = new Context[4096];
    /** Above every open file's descriptor: {@link #decode} looks no further (a fuzz input calls it per serve). */
    private int filesEnd;
    private int open;
    /** Decode at each QBUF and STREAMON (as v4l2-mem2mem schedules a job) instead of waiting for {@link #decode}. */
    volatile boolean decodeOnQueue;
    private int failNr = -1;
    private int failErrno;
    private int frames;
    private int starts;

    /**
     * @return byte {@code i} of the frame decoded from {@code bitstream}.
     */
    static int frameByte(final byte[] bitstream, final int i)
    {
        return bitstream.length == 0 ? 0 : (bitstream[i % bitstream.length] + i / bitstream.length * 3 + 0x11) & 0xFF;
    }

    private static int frameByte(final MemorySegment bitstream, final int length, final int i)
    {
        return length == 0 ? 0
            : (bitstream.get(ValueLayout.JAVA_BYTE, i % length) + i / length * 3 + 0x11) & 0xFF;
    }

    synchronized void failNext(final int nr, final int errno)
    {
        failNr = nr;
        failErrno = errno;
    }

    synchronized int openFiles()
    {
        return open;
    }

    /** @return frames decoded so far. */
    synchronized int frames()
    {
        return frames;
    }

    /** @return DECODER_CMD START commands taken. */
    synchronized int starts()
    {
        return starts;
    }

    /** @return whether any context streams its CAPTURE queue. */
    synchronized boolean captureStreaming()
    {
        return java.util.Arrays.stream(files).anyMatch(c -> null != c && c.capture.streaming);
    }

    /** @return the OUTPUT format of any context (the last set). */
    synchronized int codedFormat()
    {
        return java.util.Arrays.stream(files).filter(java.util.Objects::nonNull).mapToInt(c -> c.codedFormat)
            .findFirst().orElse(0);
    }

    /**
     * The hardware decodes every bitstream it can in every context.
     *
     * @return frames decoded by this call.
     */
    synchronized int decode()
    {
        int n = 0;
        for (int fd = 0; fd < filesEnd; fd++)
        {
            n += null == files[fd] ? 0 : decode(files[fd]);
        }
        return n;
    }

    private int decode(final Context c)
    {
        int n = 0;
        while (c.output.streaming && c.capture.streaming && !c.output.pending.isEmpty()
            && !c.capture.pending.isEmpty())
        {
            final int in = c.output.pending.poll();
            final int out = c.capture.pending.poll();
            final int length = c.output.bytesused[in];
            final MemorySegment bits = c.output.memory[in];
            final MemorySegment frame = c.capture.memory[out];
            for (int i = 0; i < SIZEIMAGE; i++)
            {
                frame.set(ValueLayout.JAVA_BYTE, i, (byte)frameByte(bits, length, i));
            }
            finish(c.output, in, length, c.output.sec[in], c.output.usec[in], 0);
            finish(c.capture, out, SIZEIMAGE, c.output.sec[in], c.output.usec[in],
                length > 0 && (bits.get(ValueLayout.JAVA_BYTE, 0) & 1) == 0 ? V4l2Decoder.BUF_FLAG_KEYFRAME : 0);
            frames++;
            n++;
        }
        last(c);
        readable(c);
        return n;
    }

    private static void finish(final Q q, final int index, final int bytesused, final long sec, final long usec,
        final int flags)
    {
        q.queued[index] = false;
        q.done[index] = true;
        q.bytesused[index] = bytesused;
        q.sec[index] = sec;
        q.usec[index] = usec;
        q.flags[index] = flags;
        q.finished.add(index);
    }

    private void readable(final Context c)
    {
        // A system call only when the state changes: readable() runs after every ioctl.
        if (c.signalled == c.capture.finished.isEmpty())
        {
            c.signalled = !c.signalled;
            if (c.signalled)
            {
                c.file.signal();
            }
            else
            {
                c.file.drain();
            }
        }
    }

    @Override
    public String toString()
    {
        return "fake decoder node";
    }

    @Override
    public synchronized int open()
    {
        try
        {
            final EventFd file = EventFd.create();
            if (file.fd() >= files.length)
            {
                file.close();
                return -Errno.EMFILE;
            }
            files[file.fd()] = new Context(file);
            filesEnd = Math.max(filesEnd, file.fd() + 1);
            open++;
            return file.fd();
        }
        catch (final NativeException e)
        {
            return -e.errno();
        }
    }

    @Override
    public synchronized void close(final int fd)
    {
        final Context c = fd >= 0 && fd < files.length ? files[fd] : null;
        if (null != c)
        {
            files[fd] = null;
            open--;
            c.file.close();
        }
    }

    @Override
    public synchronized int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        final Context c = fd >= 0 && fd < files.length ? files[fd] : null;
        if (null == c)
        {
            return -Errno.EBADF;
        }
        final int nr = (int)(request & 0xFF);
        if (nr == failNr)
        {
            failNr = -1;
            return -failErrno;
        }
        final int rc;
        if (request == V4l2Decoder.VIDIOC_QUERYCAP)
        {
            arg.fill((byte)0);
            ascii(arg, 0, "fake-m2m");
            ascii(arg, 16, CARD);
            arg.set(I32, 84, V4l2Decoder.CAP_VIDEO_M2M | 0x0400_0000 | V4l2Decoder.CAP_DEVICE_CAPS);
            arg.set(I32, 88, V4l2Decoder.CAP_VIDEO_M2M | 0x0400_0000);
            rc = 0;
        }
        else if (request == V4l2Decoder.VIDIOC_S_FMT || request == V4l2Decoder.VIDIOC_G_FMT)
        {
            rc = format(c, request == V4l2Decoder.VIDIOC_S_FMT, arg);
        }
        else if (request == V4l2Decoder.VIDIOC_ENUM_FMT)
        {
            final int index = arg.get(I32, 0);
            final int type = arg.get(I32, 4);
            final int[] list = type == OUTPUT ? new int[] {V4l2Decoder.fourcc("H264"), V4l2Decoder.fourcc("JPEG"),
                V4l2Decoder.fourcc("VP80")} : type == CAPTURE ? new int[] {NV12} : new int[0];
            if (index < 0 || index >= list.length)
            {
                rc = -Errno.EINVAL;
            }
            else
            {
                arg.asSlice(8).fill((byte)0);
                arg.set(I32, 44, list[index]);
                rc = 0;
            }
        }
        else if (request == V4l2Decoder.VIDIOC_ENUM_FRAMESIZES)
        {
            final int f = arg.get(I32, 4);
            final boolean known = f == V4l2Decoder.fourcc("H264") || f == V4l2Decoder.fourcc("VP80") || f == NV12;
            if (arg.get(I32, 0) != 0 || !known)
            {
                rc = -Errno.EINVAL;
            }
            else if (f == NV12)
            {
                arg.set(I32, 8, 1);
                arg.set(I32, 12, WIDTH);
                arg.set(I32, 16, HEIGHT);
                rc = 0;
            }
            else
            {
                arg.set(I32, 8, 3);
                arg.set(I32, 12, 16);
                arg.set(I32, 16, 1920);
                arg.set(I32, 20, 16);
                arg.set(I32, 24, 16);
                arg.set(I32, 28, 1088);
                arg.set(I32, 32, 16);
                rc = 0;
            }
        }
        else if (request == V4l2Decoder.VIDIOC_REQBUFS)
        {
            rc = reqbufs(c, arg);
        }
        else if (request == V4l2Decoder.VIDIOC_QBUF)
        {
            rc = qbuf(c, arg);
            if (rc == 0 && decodeOnQueue)
            {
                decode(c);
            }
        }
        else if (request == V4l2Decoder.VIDIOC_DQBUF)
        {
            rc = dqbuf(c, arg);
        }
        else if (request == V4l2Decoder.VIDIOC_STREAMON || request == V4l2Decoder.VIDIOC_STREAMOFF)
        {
            rc = stream(c, request == V4l2Decoder.VIDIOC_STREAMON, arg.get(I32, 0));
            if (rc == 0 && decodeOnQueue)
            {
                decode(c);
            }
        }
        else if (request == V4l2Decoder.VIDIOC_DECODER_CMD)
        {
            rc = decoderCmd(c, arg.get(I32, 0));
        }
        else
        {
            rc = -25;
        }
        readable(c);
        return rc;
    }

    private static void ascii(final MemorySegment a, final int offset, final String s)
    {
        for (int i = 0; i < s.length(); i++)
        {
            a.set(ValueLayout.JAVA_BYTE, offset + i, (byte)s.charAt(i));
        }
    }

    private static int format(final Context c, final boolean set, final MemorySegment a)
    {
        final int type = a.get(I32, 0);
        if (type == OUTPUT)
        {
            if (set)
            {
                final int f = a.get(I32, 16);
                if (f != V4l2Decoder.fourcc("H264") && f != V4l2Decoder.fourcc("VP80"))
                {
                    return -Errno.EINVAL;
                }
                if (c.output.count > 0)
                {
                    return -Errno.EBUSY;
                }
                c.codedFormat = f;
            }
            a.asSlice(4).fill((byte)0);
            a.set(I32, 16, c.codedFormat);
            a.set(I32, 28, 1 << 20);
            return 0;
        }
        if (type != CAPTURE || set && a.get(I32, 16) != NV12)
        {
            return -Errno.EINVAL;
        }
        a.asSlice(4).fill((byte)0);
        a.set(I32, 8, WIDTH);
        a.set(I32, 12, HEIGHT);
        a.set(I32, 16, NV12);
        a.set(I32, 24, WIDTH);
        a.set(I32, 28, SIZEIMAGE);
        return 0;
    }

    private static int reqbufs(final Context c, final MemorySegment a)
    {
        final Q q = c.q(a.get(I32, 4));
        if (null == q || a.get(I32, 8) != V4l2Decoder.MEMORY_USERPTR)
        {
            return -Errno.EINVAL;
        }
        if (q.streaming)
        {
            return -Errno.EBUSY;
        }
        final long asked = Integer.toUnsignedLong(a.get(I32, 0));
        q.count = (int)Math.min(asked, MAX_BUFFERS);
        q.clear();
        a.set(I32, 0, q.count);
        a.set(I32, 12, 0x2);
        return 0;
    }

    private static int qbuf(final Context c, final MemorySegment a)
    {
        final Q q = c.q(a.get(I32, 4));
        final int index = a.get(I32, 0);
        if (null == q || index < 0 || index >= q.count || a.get(I32, 60) != V4l2Decoder.MEMORY_USERPTR
            || q.queued[index] || q.done[index])
        {
            return -Errno.EINVAL;
        }
        final long length = Integer.toUnsignedLong(a.get(I32, 72));
        if (q == c.capture ? length < SIZEIMAGE : Integer.toUnsignedLong(a.get(I32, 8)) > length)
        {
            return -Errno.EINVAL;
        }
        if (a.get(I64, 64) == 0)
        {
            return -Errno.EFAULT;
        }
        if (null == q.memory[index] || q.userptr[index] != a.get(I64, 64) || q.length[index] != (int)length)
        {
            q.userptr[index] = a.get(I64, 64);
            q.length[index] = (int)length;
            q.memory[index] = MemorySegment.ofAddress(q.userptr[index]).reinterpret(length);
        }
        q.bytesused[index] = a.get(I32, 8);
        q.sec[index] = a.get(I64, 24);
        q.usec[index] = a.get(I64, 32);
        q.queued[index] = true;
        q.pending.add(index);
        if (q == c.capture)
        {
            last(c);
        }
        return 0;
    }

    /** A pending STOP completes once no bitstream is left: the next CAPTURE buffer comes back empty, LAST. */
    private static void last(final Context c)
    {
        if (c.stopping && c.output.pending.isEmpty() && c.capture.streaming && !c.capture.pending.isEmpty())
        {
            final int out = c.capture.pending.poll();
            c.capture.queued[out] = false;
            c.capture.done[out] = true;
            c.capture.bytesused[out] = 0;
            c.capture.sec[out] = 0;
            c.capture.usec[out] = 0;
            c.capture.flags[out] = V4l2Decoder.BUF_FLAG_LAST;
            c.capture.finished.add(out);
            c.stopping = false;
        }
    }

    private static int dqbuf(final Context c, final MemorySegment a)
    {
        final Q q = c.q(a.get(I32, 4));
        if (null == q || a.get(I32, 60) != V4l2Decoder.MEMORY_USERPTR || !q.streaming)
        {
            return -Errno.EINVAL;
        }
        if (q == c.capture && c.lastDequeued)
        {
            return -Errno.EPIPE;
        }
        if (q.finished.isEmpty())
        {
            return -Errno.EAGAIN;
        }
        final int index = q.finished.poll();
        q.done[index] = false;
        a.fill((byte)0);
        a.set(I32, 0, index);
        a.set(I32, 4, q == c.capture ? CAPTURE : OUTPUT);
        a.set(I32, 8, q.bytesused[index]);
        a.set(I32, 12, q.flags[index] | V4l2Decoder.BUF_FLAG_TIMESTAMP_COPY);
        a.set(I64, 24, q.sec[index]);
        a.set(I64, 32, q.usec[index]);
        a.set(I32, 60, V4l2Decoder.MEMORY_USERPTR);
        a.set(I64, 64, q.userptr[index]);
        a.set(I32, 72, q.length[index]);
        if (q == c.capture && (q.flags[index] & V4l2Decoder.BUF_FLAG_LAST) != 0)
        {
            c.lastDequeued = true;
        }
        return 0;
    }

    private static int stream(final Context c, final boolean on, final int type)
    {
        final Q q = c.q(type);
        if (null == q || on && q.count == 0)
        {
            return -Errno.EINVAL;
        }
        q.streaming = on;
        if (!on)
        {
            q.clear();
            if (q == c.capture)
            {
                c.lastDequeued = false;
            }
        }
        return 0;
    }

    private int decoderCmd(final Context c, final int cmd)
    {
        if (cmd == V4l2Decoder.DEC_CMD_STOP)
        {
            c.stopping = true;
            last(c);
            return 0;
        }
        if (cmd == V4l2Decoder.DEC_CMD_START)
        {
            starts++;
            c.stopping = false;
            c.lastDequeued = false;
            return 0;
        }
        return -Errno.EINVAL;
    }
}
