package io.jvhost.device.media;

/**
 * The V4L2 ioctls virtio-media carries, by their code (the number in {@code _IO*('V', nr, type)}), with each
 * payload's size in the 64-bit layout and direction; and the V4L2 constants the back-ends use.
 * <p>
 * An ioctl this table does not know is answered {@code ENOTTY}, as the protocol asks; DQBUF and DQEVENT (replaced by
 * events) are not in it. QUERYCAP, replaced by the config space, is still carried for drivers that ask.
 */
public final class V4l2
{
    public static final int QUERYCAP = 0;
    public static final int ENUM_FMT = 2;
    public static final int G_FMT = 4;
    public static final int S_FMT = 5;
    public static final int REQBUFS = 8;
    public static final int QUERYBUF = 9;
    public static final int QBUF = 15;
    public static final int DQBUF = 17;
    public static final int STREAMON = 18;
    public static final int STREAMOFF = 19;
    public static final int G_PARM = 21;
    public static final int S_PARM = 22;
    public static final int ENUMINPUT = 26;
    public static final int G_INPUT = 38;
    public static final int S_INPUT = 39;
    public static final int TRY_FMT = 64;
    public static final int ENUM_FRAMESIZES = 74;
    public static final int ENUM_FRAMEINTERVALS = 75;

    /**
     * The host's {@code VIDIOC_DQBUF} request ({@code _IOWR('V', 17, struct v4l2_buffer)}): virtio-media does not carry
     * it (DQBUF events replace it), but the proxy asks the host driver with it.
     */
    public static final long REQUEST_DQBUF = (3L << 30) | (88L << 16) | ('V' << 8) | DQBUF;

    /** The largest payload in the table (v4l2_format). */
    public static final int MAX_PAYLOAD = 208;

    public static final int BUF_TYPE_VIDEO_CAPTURE = 1;
    public static final int MEMORY_MMAP = 1;
    public static final int MEMORY_USERPTR = 2;
    public static final int MEMORY_DMABUF = 4;
    public static final int FIELD_NONE = 1;
    public static final int COLORSPACE_SRGB = 8;

    public static final int CAP_VIDEO_CAPTURE = 0x0000_0001;
    public static final int CAP_STREAMING = 0x0400_0000;
    public static final int CAP_DEVICE_CAPS = 0x8000_0000;
    public static final int BUF_CAP_SUPPORTS_MMAP = 0x1;
    public static final int BUF_CAP_SUPPORTS_USERPTR = 0x2;
    public static final int BUF_CAP_SUPPORTS_DMABUF = 0x4;

    public static final int BUF_FLAG_QUEUED = 0x2;
    public static final int BUF_FLAG_DONE = 0x4;
    public static final int BUF_FLAG_ERROR = 0x40;
    public static final int BUF_FLAG_TIMESTAMP_MONOTONIC = 0x2000;

    /** VFL_TYPE_VIDEO, the config space's device_type of a video node. */
    public static final int VFL_TYPE_VIDEO = 0;

    public static final int PIX_FMT_YUYV = fourcc("YUYV");
    public static final int PIX_FMT_RGB24 = fourcc("RGB3");

    /** {@code _IOC_WRITE}: the driver passes the payload to the device. */
    public static final int DIR_WRITE = 1;
    /** {@code _IOC_READ}: the device passes the payload back. */
    public static final int DIR_READ = 2;

    private static final int[] SIZES = new int[128];
    private static final int[] DIRS = new int[128];

    static
    {
        java.util.Arrays.fill(SIZES, -1);
        define(QUERYCAP, 104, DIR_READ);
        define(ENUM_FMT, 64, DIR_READ | DIR_WRITE);
        define(G_FMT, 208, DIR_READ | DIR_WRITE);
        define(S_FMT, 208, DIR_READ | DIR_WRITE);
        define(REQBUFS, 20, DIR_READ | DIR_WRITE);
        define(QUERYBUF, 88, DIR_READ | DIR_WRITE);
        define(QBUF, 88, DIR_READ | DIR_WRITE);
        define(STREAMON, 4, DIR_WRITE);
        define(STREAMOFF, 4, DIR_WRITE);
        define(G_PARM, 204, DIR_READ | DIR_WRITE);
        define(S_PARM, 204, DIR_READ | DIR_WRITE);
        define(ENUMINPUT, 80, DIR_READ | DIR_WRITE);
        define(G_INPUT, 4, DIR_READ);
        define(S_INPUT, 4, DIR_READ | DIR_WRITE);
        define(TRY_FMT, 208, DIR_READ | DIR_WRITE);
        define(ENUM_FRAMESIZES, 44, DIR_READ | DIR_WRITE);
        define(ENUM_FRAMEINTERVALS, 52, DIR_READ | DIR_WRITE);
    }

    private V4l2()
    {
    }

    private static void define(final int code, final int size, final int dir)
    {
        SIZES[code] = size;
        DIRS[code] = dir;
    }

    /**
     * @return the payload size of ioctl {@code code}, or -1 when virtio-media does not carry it (answer ENOTTY).
     */
    public static int payloadSize(final int code)
    {
        return code >= 0 && code < SIZES.length ? SIZES[code] : -1;
    }

    /**
     * @return {@link #DIR_WRITE} and/or {@link #DIR_READ} of a known ioctl.
     */
    public static int direction(final int code)
    {
        return DIRS[code];
    }

    /**
     * @return the host ioctl request number {@code _IOC(dir, 'V', code, size)} of a known ioctl.
     */
    public static long request(final int code)
    {
        return ((long)DIRS[code] << 30) | ((long)SIZES[code] << 16) | ('V' << 8) | code;
    }

    public static int fourcc(final String s)
    {
        return s.charAt(0) | s.charAt(1) << 8 | s.charAt(2) << 16 | s.charAt(3) << 24;
    }
}
