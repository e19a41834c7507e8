package io.jvhost.device.input;

/**
 * The evdev ioctl request numbers ({@code linux/input.h}), computed with the generic {@code _IOC} encoding that
 * x86-64 and aarch64 share ({@code asm-generic/ioctl.h}):
 * <pre>
 *   31  30 29                    16 15          8 7           0
 *   +------+------------------------+-------------+-------------+
 *   | dir  | size (14 bits)         | type ('E')  | nr          |
 *   +------+------------------------+-------------+-------------+
 *   dir: 0 none, 1 write (user -> kernel), 2 read (kernel -> user)
 * </pre>
 * (Alpha, MIPS, PowerPC and SPARC use another layout; jvhost runs on x86-64 and aarch64 only.)
 */
public final class EvdevIoctl
{
    public static final int IOC_NONE = 0;
    public static final int IOC_WRITE = 1;
    public static final int IOC_READ = 2;
    /** Largest size the 14-bit field holds. */
    public static final int IOC_SIZE_MAX = (1 << 14) - 1;

    /** {@code sizeof(struct input_id)}: le16 bustype, vendor, product, version. */
    public static final int INPUT_ID_SIZE = 8;
    /** {@code sizeof(struct input_absinfo)}: s32 value, minimum, maximum, fuzz, flat, resolution. */
    public static final int INPUT_ABSINFO_SIZE = 24;

    private static final int EVDEV = 'E';

    /** {@code EVIOCGVERSION}: the evdev protocol version (an int); any evdev answers it. */
    public static final long EVIOCGVERSION = ior(EVDEV, 0x01, 4);
    /** {@code EVIOCGID}: {@code struct input_id}. */
    public static final long EVIOCGID = ior(EVDEV, 0x02, INPUT_ID_SIZE);
    /** {@code EVIOCGRAB}: argument 1 grabs the device for this descriptor alone, 0 releases it. */
    public static final long EVIOCGRAB = iow(EVDEV, 0x90, 4);

    private EvdevIoctl()
    {
    }

    /**
     * {@code _IOC(dir, type, nr, size)}.
     *
     * @throws IllegalArgumentException when a field does not fit.
     */
    public static long ioc(final int dir, final int type, final int nr, final int size)
    {
        if (dir < 0 || dir > 3 || type < 0 || type > 0xFF || nr < 0 || nr > 0xFF || size < 0 || size > IOC_SIZE_MAX)
        {
            throw new IllegalArgumentException("ioctl fields out of range: dir=" + dir + " type=0x"
                + Integer.toHexString(type) + " nr=0x" + Integer.toHexString(nr) + " size=" + size);
        }
        return (long)dir << 30 | (long)size << 16 | (long)type << 8 | nr;
    }

    /**
     * {@code _IO(type, nr)}.
     */
    public static long io(final int type, final int nr)
    {
        return ioc(IOC_NONE, type, nr, 0);
    }

    /**
     * {@code _IOR(type, nr, size)}.
     */
    public static long ior(final int type, final int nr, final int size)
    {
        return ioc(IOC_READ, type, nr, size);
    }

    /**
     * {@code _IOW(type, nr, size)}.
     */
    public static long iow(final int type, final int nr, final int size)
    {
        return ioc(IOC_WRITE, type, nr, size);
    }

    /**
     * {@code EVIOCGNAME(len)}: the device name, NUL-terminated if it fits.
     */
    public static long eviocgname(final int length)
    {
        return ioc(IOC_READ, EVDEV, 0x06, length);
    }

    /**
     * {@code EVIOCGPHYS(len)}: the physical location.
     */
    public static long eviocgphys(final int length)
    {
        return ioc(IOC_READ, EVDEV, 0x07, length);
    }

    /**
     * {@code EVIOCGUNIQ(len)}: the unique identifier (serial).
     */
    public static long eviocguniq(final int length)
    {
        return ioc(IOC_READ, EVDEV, 0x08, length);
    }

    /**
     * {@code EVIOCGPROP(len)}: the input-property bitmap.
     */
    public static long eviocgprop(final int length)
    {
        return ioc(IOC_READ, EVDEV, 0x09, length);
    }

    /**
     * {@code EVIOCGBIT(ev, len)}: the bitmap of codes of event type {@code ev}; {@code ev} 0 gives the bitmap of
     * event types.
     */
    public static long eviocgbit(final int eventType, final int length)
    {
        if (eventType < 0 || eventType > InputCodes.EV_MAX)
        {
            throw new IllegalArgumentException("event type must be 0..0x1f, got 0x" + Integer.toHexString(eventType));
        }
        return ioc(IOC_READ, EVDEV, 0x20 + eventType, length);
    }

    /**
     * {@code EVIOCGABS(abs)}: {@code struct input_absinfo} of axis {@code abs}.
     */
    public static long eviocgabs(final int axis)
    {
        if (axis < 0 || axis > InputCodes.ABS_MAX)
        {
            throw new IllegalArgumentException("absolute axis must be 0..0x3f, got 0x" + Integer.toHexString(axis));
        }
        return ior(EVDEV, 0x40 + axis, INPUT_ABSINFO_SIZE);
    }
}
