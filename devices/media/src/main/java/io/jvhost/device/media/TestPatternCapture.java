package io.jvhost.device.media;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.media.wire.Capability;
import io.jvhost.device.media.wire.FmtDesc;
import io.jvhost.device.media.wire.FrmSizeEnum;
import io.jvhost.device.media.wire.Input;
import io.jvhost.device.media.wire.PixFormat;
import io.jvhost.device.media.wire.RequestBuffers;
import io.jvhost.device.media.wire.V4l2Buffer;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.ChainReader;

/**
 * A software capture device (rust-vmm's {@code simple-capture}): a camera whose frames are a deterministic test
 * pattern, captured into the guest's own buffers (V4L2_MEMORY_USERPTR, the buffer's memory described by the SG
 * entries that follow its {@code struct v4l2_buffer}). Each session is its own camera with its own format, buffers
 * and sequence numbers.
 * <p>
 * Formats: YUYV and RGB24, progressive, sRGB, 16x16 to {@value #MAX_WIDTH}x{@value #MAX_HEIGHT} in steps of 2
 * (default 640x480 YUYV); a format the device does not have becomes YUYV, sizes are clamped, as V4L2 drivers do.
 * Up to {@value #MAX_BUFFERS} buffers per session, each described by at most {@value #MAX_SG} SG entries.
 * <p>
 * Frame {@code seq} (0 after each STREAMON) is, for pixel (x, y): in RGB24, R = x + seq, G = y + seq, B = x + y
 * (each mod 256); in YUYV, for each pair of pixels x, x + 1 (x even): Y0 = x + seq, U = y + seq, Y1 = x + 1 + seq,
 * V = x + y. See {@link #patternByte}. A buffer queued while streaming is filled at once and handed back (a DQBUF
 * event); buffers queued before STREAMON are filled, in queue order, when it comes. STREAMOFF drops queued and
 * finished-but-not-dequeued buffers (V4L2 returns them all to the application). A buffer whose guest memory turned out
 * not to be RAM when the frame was written comes back with V4L2_BUF_FLAG_ERROR and bytesused 0.
 * <p>
 * Errors, as V4L2 drivers answer: a buffer type other than VIDEO_CAPTURE, memory other than USERPTR, an index out of
 * range, a buffer queued twice, a buffer shorter than the format's sizeimage, SG entries that do not cover it (or need
 * more than {@value #MAX_SG}), STREAMON without buffers: EINVAL; an SG entry outside guest RAM: EFAULT; S_FMT while
 * buffers are allocated, REQBUFS while streaming: EBUSY; an ioctl a capture device has no use for: ENOTTY.
 * <p>
 * Allocation: a session's buffer tables are allocated when its slot is first opened; QBUF, frames and dequeues
 * allocate nothing.
 */
public final class TestPatternCapture implements MediaBackend
{
    public static final int MAX_WIDTH = 1280;
    public static final int MAX_HEIGHT = 720;
    public static final int MIN_SIZE = 16;
    public static final int MAX_BUFFERS = 32;
    public static final int MAX_SG = 1024;
    public static final int MAX_SESSIONS = 8;
    public static final String CARD = "jvhost test pattern";

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(TestPatternCapture.class.getName());
    private static final byte FREE = 0;
    private static final byte QUEUED = 1;
    private static final byte DONE = 2;

    private final Session[] sessions = new Session[MAX_SESSIONS];
    private final V4l2Buffer buf = new V4l2Buffer();
    private final PixFormat fmt = new PixFormat();
    private final FmtDesc desc = new FmtDesc();
    private final RequestBuffers req = new RequestBuffers();
    private final Capability cap = new Capability();
    private final FrmSizeEnum frmsize = new FrmSizeEnum();
    private final Input input = new Input();
    private final MemorySegment row = MemorySegment.ofArray(new byte[MAX_WIDTH * 3]);
    private final V4l2Buffer out = new V4l2Buffer();
    /** Filled buffers, not yet dequeued, per session. */
    private final DoneBuffers done = new DoneBuffers(MAX_SESSIONS, MAX_BUFFERS);

    /** One session's camera. */
    private static final class Session
    {
        final int slot;
        boolean open;
        int width;
        int height;
        int pixelformat;
        int count;
        boolean streaming;
        int sequence;
        final byte[] state = new byte[MAX_BUFFERS];
        final long[] userptr = new long[MAX_BUFFERS];
        final int[] length = new int[MAX_BUFFERS];
        /** Each buffer's guest pages, from its last QBUF. */
        final UserptrPages pages = new UserptrPages(MAX_BUFFERS, MAX_SG);
        /** Buffers queued in order, not yet filled. */
        final int[] queued = new int[MAX_BUFFERS];
        int queuedHead;
        int queuedCount;

        Session(final int slot)
        {
            this.slot = slot;
        }

        void reset()
        {
            width = 640;
            height = 480;
            pixelformat = V4l2.PIX_FMT_YUYV;
            count = 0;
            streaming = false;
            sequence = 0;
            java.util.Arrays.fill(state, FREE);
            queuedCount = 0;
        }

        int bytesPerPixel()
        {
            return pixelformat == V4l2.PIX_FMT_RGB24 ? 3 : 2;
        }

        int sizeimage()
        {
            return width * height * bytesPerPixel();
        }
    }

    /**
     * @return byte {@code offset} of a row {@code y} of frame {@code seq} in format {@code pixelformat}: the pattern
     *     tests compare the guest's buffers with.
     */
    public static int patternByte(final int pixelformat, final int seq, final int y, final int offset)
    {
        if (pixelformat == V4l2.PIX_FMT_RGB24)
        {
            final int x = offset / 3;
            return switch (offset % 3)
            {
                case 0 -> (x + seq) & 0xFF;
                case 1 -> (y + seq) & 0xFF;
                default -> (x + y) & 0xFF;
            };
        }
        final int x = offset / 4 * 2;
        return switch (offset % 4)
        {
            case 0 -> (x + seq) & 0xFF;
            case 1 -> (y + seq) & 0xFF;
            case 2 -> (x + 1 + seq) & 0xFF;
            default -> (x + y) & 0xFF;
        };
    }

    @Override
    public int deviceCaps()
    {
        return V4l2.CAP_VIDEO_CAPTURE | V4l2.CAP_STREAMING;
    }

    @Override
    public String card()
    {
        return CARD;
    }

    @Override
    public int maxSessions()
    {
        return MAX_SESSIONS;
    }

    @Override
    public int open(final int slot)
    {
        if (null == sessions[slot])
        {
            sessions[slot] = new Session(slot);
        }
        sessions[slot].reset();
        sessions[slot].open = true;
        done.clear(slot);
        return 0;
    }

    @Override
    public void close(final int slot)
    {
        final Session s = sessions[slot];
        done.clear(slot);
        s.reset();
        s.open = false;
    }

    @Override
    public int ioctl(final int slot, final int code, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        final Session s = sessions[slot];
        return switch (code)
        {
            case V4l2.QUERYCAP ->
            {
                cap.wrap(payload);
                cap.set("jvhost-media", CARD, "platform:jvhost-media", 0x00_06_0C, deviceCaps() | V4l2.CAP_DEVICE_CAPS,
                    deviceCaps());
                yield 0;
            }
            case V4l2.ENUM_FMT -> enumFormat(payload);
            case V4l2.G_FMT, V4l2.S_FMT, V4l2.TRY_FMT -> format(s, code, payload);
            case V4l2.ENUM_FRAMESIZES ->
            {
                frmsize.wrap(payload);
                if (frmsize.index() != 0 || !known(frmsize.pixelFormat()))
                {
                    yield Errno.EINVAL;
                }
                frmsize.stepwise(MIN_SIZE, MAX_WIDTH, 2, MIN_SIZE, MAX_HEIGHT, 2);
                yield 0;
            }
            case V4l2.ENUMINPUT ->
            {
                input.wrap(payload);
                if (input.index() != 0)
                {
                    yield Errno.EINVAL;
                }
                input.describe("Test pattern", Input.TYPE_CAMERA);
                yield 0;
            }
            case V4l2.G_INPUT ->
            {
                payload.set(LE32, 0, 0);
                yield 0;
            }
            case V4l2.S_INPUT -> payload.get(LE32, 0) == 0 ? 0 : Errno.EINVAL;
            case V4l2.REQBUFS -> requestBuffers(s, payload);
            case V4l2.QUERYBUF -> queryBuffer(s, payload);
            case V4l2.QBUF -> queueBuffer(s, payload, rest, memory);
            case V4l2.STREAMON -> streamOn(s, payload, memory);
            case V4l2.STREAMOFF -> streamOff(s, payload);
            default -> MediaDevice.ENOTTY;
        };
    }

    private static boolean known(final int pixelformat)
    {
        return pixelformat == V4l2.PIX_FMT_YUYV || pixelformat == V4l2.PIX_FMT_RGB24;
    }

    private int enumFormat(final MemorySegment payload)
    {
        desc.wrap(payload);
        if (desc.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return Errno.EINVAL;
        }
        switch (desc.index())
        {
            case 0 -> desc.describe("YUYV 4:2:2", V4l2.PIX_FMT_YUYV);
            case 1 -> desc.describe("24-bit RGB 8-8-8", V4l2.PIX_FMT_RGB24);
            default ->
            {
                return Errno.EINVAL;
            }
        }
        return 0;
    }

    private int format(final Session s, final int code, final MemorySegment payload)
    {
        fmt.wrap(payload);
        if (fmt.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return Errno.EINVAL;
        }
        int width = s.width;
        int height = s.height;
        int pixelformat = s.pixelformat;
        if (code != V4l2.G_FMT)
        {
            if (code == V4l2.S_FMT && s.count > 0)
            {
                return Errno.EBUSY;
            }
            width = Math.clamp(Integer.toUnsignedLong(fmt.width()), MIN_SIZE, MAX_WIDTH) & ~1;
            height = Math.clamp(Integer.toUnsignedLong(fmt.height()), MIN_SIZE, MAX_HEIGHT) & ~1;
            pixelformat = known(fmt.pixelformat()) ? fmt.pixelformat() : V4l2.PIX_FMT_YUYV;
        }
        if (code == V4l2.S_FMT)
        {
            s.width = width;
            s.height = height;
            s.pixelformat = pixelformat;
        }
        final int bpp = pixelformat == V4l2.PIX_FMT_RGB24 ? 3 : 2;
        fmt.set(V4l2.BUF_TYPE_VIDEO_CAPTURE, width, height, pixelformat, V4l2.FIELD_NONE, width * bpp,
            width * bpp * height, V4l2.COLORSPACE_SRGB);
        return 0;
    }

    private int requestBuffers(final Session s, final MemorySegment payload)
    {
        req.wrap(payload);
        if (req.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || req.memory() != V4l2.MEMORY_USERPTR)
        {
            return Errno.EINVAL;
        }
        if (s.streaming)
        {
            return Errno.EBUSY;
        }
        final int count = (int)Math.min(Integer.toUnsignedLong(req.count()), MAX_BUFFERS);
        done.clear(s.slot);
        java.util.Arrays.fill(s.state, FREE);
        s.queuedCount = 0;
        s.count = count;
        for (int i = 0; i < count; i++)
        {
            s.userptr[i] = 0;
            s.length[i] = 0;
            s.pages.clear(i);
        }
        req.answer(count, V4l2.BUF_CAP_SUPPORTS_USERPTR);
        return 0;
    }

    private int queryBuffer(final Session s, final MemorySegment payload)
    {
        buf.wrap(payload);
        final int index = buf.index();
        if (buf.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || index < 0 || index >= s.count)
        {
            return Errno.EINVAL;
        }
        final int flags = s.state[index] == QUEUED ? V4l2.BUF_FLAG_QUEUED
            : s.state[index] == DONE ? V4l2.BUF_FLAG_DONE : 0;
        buf.clear().index(index).type(V4l2.BUF_TYPE_VIDEO_CAPTURE).flags(flags | V4l2.BUF_FLAG_TIMESTAMP_MONOTONIC)
            .field(V4l2.FIELD_NONE).memory(V4l2.MEMORY_USERPTR).userptr(s.userptr[index])
            .length(s.length[index] == 0 ? s.sizeimage() : s.length[index]);
        return 0;
    }

    private int queueBuffer(final Session s, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        buf.wrap(payload);
        final int index = buf.index();
        if (buf.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || buf.memory() != V4l2.MEMORY_USERPTR || index < 0
            || index >= s.count || s.state[index] != FREE)
        {
            return Errno.EINVAL;
        }
        final long length = Integer.toUnsignedLong(buf.length());
        if (length < s.sizeimage())
        {
            return Errno.EINVAL;
        }
        final int pages = s.pages.read(index, length, rest, memory);
        if (pages != 0)
        {
            return pages;
        }
        s.userptr[index] = buf.userptr();
        s.length[index] = (int)length;
        s.state[index] = QUEUED;
        s.queued[(s.queuedHead + s.queuedCount) % MAX_BUFFERS] = index;
        s.queuedCount++;
        buf.flags((buf.flags() | V4l2.BUF_FLAG_QUEUED) & ~V4l2.BUF_FLAG_DONE);
        if (s.streaming)
        {
            fillQueued(s, memory);
        }
        return 0;
    }

    private int streamOn(final Session s, final MemorySegment payload, final GuestMemory memory)
    {
        if (payload.get(LE32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE || s.count == 0)
        {
            return Errno.EINVAL;
        }
        if (!s.streaming)
        {
            s.streaming = true;
            s.sequence = 0;
            fillQueued(s, memory);
        }
        return 0;
    }

    private int streamOff(final Session s, final MemorySegment payload)
    {
        if (payload.get(LE32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return Errno.EINVAL;
        }
        s.streaming = false;
        done.clear(s.slot);
        java.util.Arrays.fill(s.state, FREE);
        s.queuedCount = 0;
        return 0;
    }

    /**
     * Captures a frame into every queued buffer, in queue order, and moves them to the dequeue list.
     */
    private void fillQueued(final Session s, final GuestMemory memory)
    {
        while (s.queuedCount > 0)
        {
            final int index = s.queued[s.queuedHead];
            s.queuedHead = (s.queuedHead + 1) % MAX_BUFFERS;
            s.queuedCount--;
            final int seq = s.sequence++;
            final boolean ok = capture(s, index, seq, memory);
            final long micros = System.nanoTime() / 1000;
            done.add(s.slot, index, seq, ok ? s.sizeimage() : 0,
                V4l2.BUF_FLAG_DONE | V4l2.BUF_FLAG_TIMESTAMP_MONOTONIC | (ok ? 0 : V4l2.BUF_FLAG_ERROR),
                V4l2.FIELD_NONE, micros / 1_000_000, micros % 1_000_000);
            s.state[index] = DONE;
        }
    }

    /**
     * Writes frame {@code seq} into buffer {@code index} through its SG entries, row by row.
     *
     * @return false when the guest memory was not RAM any more (the memory table changed).
     */
    private boolean capture(final Session s, final int index, final int seq, final GuestMemory memory)
    {
        final int rowBytes = s.width * s.bytesPerPixel();
        int entry = 0;
        long entryOffset = 0;
        try
        {
            for (int y = 0; y < s.height; y++)
            {
                for (int i = 0; i < rowBytes; i++)
                {
                    row.set(ValueLayout.JAVA_BYTE, i, (byte)patternByte(s.pixelformat, seq, y, i));
                }
                int done = 0;
                while (done < rowBytes)
                {
                    final long room = s.pages.length(index, entry) - entryOffset;
                    final int n = (int)Math.min(room, rowBytes - done);
                    memory.write(s.pages.address(index, entry) + entryOffset, row, done, n);
                    done += n;
                    entryOffset += n;
                    if (entryOffset == s.pages.length(index, entry))
                    {
                        entry++;
                        entryOffset = 0;
                    }
                }
            }
            return true;
        }
        catch (final GuestMemoryException e)
        {
            LOG.log(Level.WARNING, "test pattern: buffer " + index + " is not guest RAM any more: " + e.getMessage());
            return false;
        }
    }

    @Override
    public boolean hasDequeued()
    {
        return done.any();
    }

    @Override
    public int nextDequeued(final MemorySegment buffer)
    {
        out.wrap(buffer);
        final int slot = done.take(out);
        if (slot >= 0)
        {
            final Session s = sessions[slot];
            final int index = out.index();
            s.state[index] = FREE;
            out.length(s.length[index]);
        }
        return slot;
    }

    @Override
    public void close()
    {
    }
}
