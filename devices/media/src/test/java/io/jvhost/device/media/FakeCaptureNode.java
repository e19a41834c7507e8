package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.os.DeviceNode;
import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.NativeException;

/**
 * A fake V4L2 capture driver behind {@link DeviceNode}, modelling what a videobuf2 capture driver does with the
 * structures in their native 64-bit layout (as devices/spi's tests fake spidev): requests are checked by their full
 * {@code _IOC} number (a wrong size or direction is ENOTTY, as video_ioctl2 answers an unknown command), and the
 * queue follows the kernel's rules:
 * <ul>
 *   <li>QUERYCAP: "fake-uvc", card {@value #CARD}, VIDEO_CAPTURE | STREAMING, with DEVICE_CAPS.</li>
 *   <li>Formats: YUYV only, 16..640 x 16..480 in steps of 2, clamped; S_FMT with buffers allocated EBUSY.</li>
 *   <li>REQBUFS: capture type, USERPTR memory only (else EINVAL); EBUSY while streaming or when another open file
 *       owns the queue; count 0 frees, otherwise it is raised to {@value #MIN_BUFFERS} and lowered to
 *       {@value #MAX_BUFFERS}.</li>
 *   <li>QBUF: index in range, not queued (EINVAL), length at least sizeimage (EINVAL), userptr not 0 (EFAULT).</li>
 *   <li>Frames come only from buffers queued while {@link #frame} runs (the sensor's interrupt) and the queue is
 *       streaming; a frame with no queued buffer is dropped but counted in the sequence. A finished buffer holds
 *       {@link #patternByte} bytes, its bytesused sizeimage, flags DONE | TIMESTAMP_MONOTONIC.</li>
 *   <li>DQBUF: EINVAL when not streaming, EAGAIN when no buffer is finished (the node is always non-blocking here),
 *       EIO after {@link #breakQueue} (the queue's error flag, as a disconnected USB camera).</li>
 *   <li>STREAMON without buffers EINVAL; STREAMOFF returns every buffer, finished or queued.</li>
 *   <li>The descriptor {@link #open} returns is an eventfd readable exactly when a buffer is finished or the queue is
 *       in error (vb2's poll): the proxy's watch sees it as it would see the node.</li>
 * </ul>
 * {@link #failNext} makes the next ioctl of a number fail with an errno. Thread-safe: the proxy calls it on the
 * device's worker, the test's thread produces frames.
 */
final class FakeCaptureNode implements DeviceNode
{
    static final String CARD = "jvhost fake camera";
    static final int MIN_BUFFERS = 2;
    static final int MAX_BUFFERS = 8;
    static final int MAX_WIDTH = 640;
    static final int MAX_HEIGHT = 480;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private final EventFd[] files = new EventFd[4096];
    private int owner = -1;
    private int width = 64;
    private int height = 48;
    private int count;
    private boolean streaming;
    private boolean error;
    private int sequence;
    private final long[] userptr = new long[MAX_BUFFERS];
    /** The memory at each buffer's userptr (made again only when the userptr or length changes). */
    private final MemorySegment[] memory = new MemorySegment[MAX_BUFFERS];
    private final int[] length = new int[MAX_BUFFERS];
    private final boolean[] queuedFlag = new boolean[MAX_BUFFERS];
    private final boolean[] doneFlag = new boolean[MAX_BUFFERS];
    private final int[] doneSeq = new int[MAX_BUFFERS];
    private final int[] queued = new int[MAX_BUFFERS];
    private int queuedHead;
    private int queuedCount;
    private final int[] done = new int[MAX_BUFFERS];
    private int doneHead;
    private int doneCount;
    private int failNr = -1;
    private int failErrno;
    private int opens;
    private int openFiles;
    private int dequeues;
    private int dqbufErrors;

    /**
     * @return byte {@code offset} of frame {@code seq}: the fake's own pattern.
     */
    static int patternByte(final int seq, final int offset)
    {
        return (offset * 7 + seq * 13 + (offset >> 8)) & 0xFF;
    }

    synchronized void failNext(final int nr, final int errno)
    {
        failNr = nr;
        failErrno = errno;
    }

    /** Sets the queue's error flag (vb2_queue_error): DQBUF EIO, the node readable. */
    synchronized void breakQueue()
    {
        error = true;
        signal();
    }

    synchronized int sizeimage()
    {
        return width * height * 2;
    }

    synchronized int opens()
    {
        return opens;
    }

    /** @return files open now. */
    synchronized int openFiles()
    {
        return openFiles;
    }

    /** @return DQBUF calls answered with a buffer. */
    synchronized int dequeues()
    {
        return dequeues;
    }

    /** @return DQBUF calls answered EIO (the queue in error). */
    synchronized int dqbufErrors()
    {
        return dqbufErrors;
    }

    synchronized boolean streaming()
    {
        return streaming;
    }

    /**
     * The sensor delivers a frame: captured into the oldest queued buffer while streaming.
     *
     * @return whether a buffer took it (false: not streaming, or dropped for want of a queued buffer).
     */
    synchronized boolean frame()
    {
        if (!streaming)
        {
            return false;
        }
        final int seq = sequence++;
        if (queuedCount == 0)
        {
            return false;
        }
        final int index = queued[queuedHead];
        queuedHead = (queuedHead + 1) % MAX_BUFFERS;
        queuedCount--;
        final int size = sizeimage();
        final MemorySegment dst = memory[index];
        for (int i = 0; i < size; i++)
        {
            dst.set(ValueLayout.JAVA_BYTE, i, (byte)patternByte(seq, i));
        }
        queuedFlag[index] = false;
        doneFlag[index] = true;
        doneSeq[index] = seq;
        done[(doneHead + doneCount) % MAX_BUFFERS] = index;
        doneCount++;
        signal();
        return true;
    }

    private void signal()
    {
        if (owner >= 0 && null != files[owner])
        {
            files[owner].signal();
        }
    }

    private void unsignal()
    {
        if (owner >= 0 && null != files[owner] && doneCount == 0 && !error)
        {
            files[owner].drain();
        }
    }

    @Override
    public String toString()
    {
        return "fake capture node";
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
            files[file.fd()] = file;
            opens++;
            openFiles++;
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
        if (fd == owner)
        {
            streamOff();
            count = 0;
            owner = -1;
        }
        files[fd].close();
        files[fd] = null;
        openFiles--;
    }

    @Override
    public synchronized int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        if (fd < 0 || fd >= files.length || null == files[fd])
        {
            return -Errno.EBADF;
        }
        final int nr = (int)(request & 0xFF);
        if ((request >>> 8 & 0xFF) != 'V' || (V4l2.payloadSize(nr) < 0 && nr != V4l2.DQBUF)
            || (nr == V4l2.DQBUF ? request != V4l2.REQUEST_DQBUF : request != V4l2.request(nr)))
        {
            return -MediaDevice.ENOTTY;
        }
        if (nr == failNr)
        {
            failNr = -1;
            return -failErrno;
        }
        final MemorySegment a = arg;
        return switch (nr)
        {
            case V4l2.QUERYCAP -> querycap(a);
            case V4l2.ENUM_FMT -> enumFmt(a);
            case V4l2.G_FMT, V4l2.S_FMT, V4l2.TRY_FMT -> format(nr, a);
            case V4l2.REQBUFS -> reqbufs(fd, a);
            case V4l2.QUERYBUF -> querybuf(a);
            case V4l2.QBUF -> qbuf(fd, a);
            case V4l2.DQBUF -> dqbuf(fd, a);
            case V4l2.STREAMON -> streamon(fd, a);
            case V4l2.STREAMOFF -> streamoff(fd, a);
            default -> -MediaDevice.ENOTTY;
        };
    }

    private static void ascii(final MemorySegment a, final int offset, final String s)
    {
        for (int i = 0; i < s.length(); i++)
        {
            a.set(ValueLayout.JAVA_BYTE, offset + i, (byte)s.charAt(i));
        }
    }

    private static int querycap(final MemorySegment a)
    {
        a.fill((byte)0);
        ascii(a, 0, "fake-uvc");
        ascii(a, 16, CARD);
        ascii(a, 48, "usb-0000:00:14.0-1");
        a.set(I32, 80, 0x00_06_0C);
        a.set(I32, 84, V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING | V4l2.CAP_DEVICE_CAPS);
        a.set(I32, 88, V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING);
        return 0;
    }

    private static int enumFmt(final MemorySegment a)
    {
        if (a.get(I32, 0) != 0 || a.get(I32, 4) != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return -Errno.EINVAL;
        }
        a.asSlice(8).fill((byte)0);
        ascii(a, 12, "YUYV 4:2:2");
        a.set(I32, 44, V4l2.PIX_FMT_YUYV);
        return 0;
    }

    private int format(final int nr, final MemorySegment a)
    {
        if (a.get(I32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return -Errno.EINVAL;
        }
        int w = width;
        int h = height;
        if (nr != V4l2.G_FMT)
        {
            if (nr == V4l2.S_FMT && count > 0)
            {
                return -Errno.EBUSY;
            }
            w = (int)Math.clamp(Integer.toUnsignedLong(a.get(I32, 8)), 16, MAX_WIDTH) & ~1;
            h = (int)Math.clamp(Integer.toUnsignedLong(a.get(I32, 12)), 16, MAX_HEIGHT) & ~1;
        }
        if (nr == V4l2.S_FMT)
        {
            width = w;
            height = h;
        }
        a.fill((byte)0);
        a.set(I32, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        a.set(I32, 8, w);
        a.set(I32, 12, h);
        a.set(I32, 16, V4l2.PIX_FMT_YUYV);
        a.set(I32, 20, V4l2.FIELD_NONE);
        a.set(I32, 24, w * 2);
        a.set(I32, 28, w * h * 2);
        a.set(I32, 32, V4l2.COLORSPACE_SRGB);
        return 0;
    }

    private int reqbufs(final int fd, final MemorySegment a)
    {
        if (a.get(I32, 4) != V4l2.BUF_TYPE_VIDEO_CAPTURE || a.get(I32, 8) != V4l2.MEMORY_USERPTR)
        {
            return -Errno.EINVAL;
        }
        if (owner >= 0 && owner != fd || streaming)
        {
            return -Errno.EBUSY;
        }
        final long asked = Integer.toUnsignedLong(a.get(I32, 0));
        count = asked == 0 ? 0 : (int)Math.clamp(asked, MIN_BUFFERS, MAX_BUFFERS);
        java.util.Arrays.fill(queuedFlag, false);
        java.util.Arrays.fill(doneFlag, false);
        queuedCount = 0;
        doneCount = 0;
        owner = count == 0 ? -1 : fd;
        a.set(I32, 0, count);
        a.set(I32, 12, V4l2.BUF_CAP_SUPPORTS_USERPTR | V4l2.BUF_CAP_SUPPORTS_MMAP);
        a.set(ValueLayout.JAVA_BYTE, 16, (byte)0);
        return 0;
    }

    private int checkIndex(final MemorySegment a)
    {
        final int index = a.get(I32, 0);
        return a.get(I32, 4) != V4l2.BUF_TYPE_VIDEO_CAPTURE || index < 0 || index >= count ? -1 : index;
    }

    private int querybuf(final MemorySegment a)
    {
        final int index = checkIndex(a);
        if (index < 0)
        {
            return -Errno.EINVAL;
        }
        describe(a, index, 0);
        return 0;
    }

    private void describe(final MemorySegment a, final int index, final int bytesused)
    {
        a.fill((byte)0);
        a.set(I32, 0, index);
        a.set(I32, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        a.set(I32, 8, bytesused);
        a.set(I32, 12, V4l2.BUF_FLAG_TIMESTAMP_MONOTONIC | (queuedFlag[index] ? V4l2.BUF_FLAG_QUEUED : 0)
            | (doneFlag[index] ? V4l2.BUF_FLAG_DONE : 0));
        a.set(I32, 16, V4l2.FIELD_NONE);
        a.set(I32, 60, V4l2.MEMORY_USERPTR);
        a.set(I64, 64, userptr[index]);
        a.set(I32, 72, length[index]);
    }

    private int qbuf(final int fd, final MemorySegment a)
    {
        final int index = checkIndex(a);
        if (fd != owner || index < 0 || a.get(I32, 60) != V4l2.MEMORY_USERPTR || queuedFlag[index]
            || doneFlag[index])
        {
            return -Errno.EINVAL;
        }
        if (Integer.toUnsignedLong(a.get(I32, 72)) < sizeimage())
        {
            return -Errno.EINVAL;
        }
        if (a.get(I64, 64) == 0)
        {
            return -Errno.EFAULT;
        }
        if (null == memory[index] || userptr[index] != a.get(I64, 64) || length[index] != a.get(I32, 72))
        {
            userptr[index] = a.get(I64, 64);
            length[index] = a.get(I32, 72);
            memory[index] = MemorySegment.ofAddress(userptr[index]).reinterpret(Integer.toUnsignedLong(length[index]));
        }
        queuedFlag[index] = true;
        queued[(queuedHead + queuedCount) % MAX_BUFFERS] = index;
        queuedCount++;
        describe(a, index, 0);
        return 0;
    }

    private int dqbuf(final int fd, final MemorySegment a)
    {
        if (fd != owner || a.get(I32, 4) != V4l2.BUF_TYPE_VIDEO_CAPTURE || a.get(I32, 60) != V4l2.MEMORY_USERPTR
            || !streaming)
        {
            return -Errno.EINVAL;
        }
        if (error)
        {
            dqbufErrors++;
            return -Errno.EIO;
        }
        if (doneCount == 0)
        {
            return -Errno.EAGAIN;
        }
        final int index = done[doneHead];
        doneHead = (doneHead + 1) % MAX_BUFFERS;
        doneCount--;
        unsignal();
        describe(a, index, sizeimage());
        doneFlag[index] = false;
        a.set(I32, 12, V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_TIMESTAMP_MONOTONIC);
        a.set(I64, 24, 1000 + doneSeq[index]);
        a.set(I64, 32, 500);
        a.set(I32, 56, doneSeq[index]);
        dequeues++;
        return 0;
    }

    private int streamon(final int fd, final MemorySegment a)
    {
        if (a.get(I32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE || fd != owner || count == 0)
        {
            return -Errno.EINVAL;
        }
        if (!streaming)
        {
            streaming = true;
            sequence = 0;
        }
        return 0;
    }

    private int streamoff(final int fd, final MemorySegment a)
    {
        if (a.get(I32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE || owner >= 0 && fd != owner)
        {
            return -Errno.EINVAL;
        }
        streamOff();
        return 0;
    }

    private void streamOff()
    {
        streaming = false;
        error = false;
        java.util.Arrays.fill(queuedFlag, false);
        java.util.Arrays.fill(doneFlag, false);
        queuedCount = 0;
        doneCount = 0;
        unsignal();
    }
}
