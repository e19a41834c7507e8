package io.jvhost.device.input;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * What a virtio-input device tells the driver about itself through the config space: its name, serial, ids,
 * properties, the codes it sends for each event type, and the range of each absolute axis. Immutable; built with
 * {@link #builder(String)} (by a virtual profile) or from a host evdev device ({@link EvdevSource}).
 * <p>
 * {@link #configData} answers one {@code select}/{@code subsel} pair with the bytes of the config union
 * {@code u} and their {@code size}:
 * <pre>
 *   select                  subsel       u                                              size
 *   0x01 ID_NAME            0            name, ASCII, no NUL                            name length
 *   0x02 ID_SERIAL          0            serial, ASCII, no NUL                          serial length (0: none)
 *   0x03 ID_DEVIDS          0            le16 bustype, vendor, product, version         8
 *   0x10 PROP_BITS          0            bitmap of INPUT_PROP_*                         bytes to the last set bit
 *   0x11 EV_BITS            EV_* type    bitmap of that type's codes                    same; 1 for a type with no
 *                                                                                       codes (EV_REP); 0: no type
 *   0x12 ABS_INFO           ABS_* axis   le32 min, max, fuzz, flat, res                 20 (0: no such axis)
 *   anything else                        zeros                                          0
 * </pre>
 * Names and serials are cut to {@value #STRING_MAX} bytes: Linux's virtio_input keeps them in 64-byte buffers and
 * relies on the terminating zero. Bitmaps hold codes below {@value #CONFIG_BITS} (the 128-byte union); every Linux
 * code fits.
 */
public final class InputCapabilities
{
    public static final int CFG_UNSET = 0x00;
    public static final int CFG_ID_NAME = 0x01;
    public static final int CFG_ID_SERIAL = 0x02;
    public static final int CFG_ID_DEVIDS = 0x03;
    public static final int CFG_PROP_BITS = 0x10;
    public static final int CFG_EV_BITS = 0x11;
    public static final int CFG_ABS_INFO = 0x12;

    /** Bytes of the config union {@code u}. */
    public static final int UNION_SIZE = 128;
    /** Codes a config bitmap can describe. */
    public static final int CONFIG_BITS = UNION_SIZE * 8;
    /** Longest name or serial reported. */
    public static final int STRING_MAX = 63;
    /** Size of {@code struct virtio_input_devids}. */
    public static final int DEVIDS_SIZE = 8;
    /** Size of {@code struct virtio_input_absinfo}. */
    public static final int ABSINFO_SIZE = 20;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One absolute axis, as {@code struct input_absinfo} without the current value.
     *
     * @param resolution units per millimetre (per radian for rotation axes); 0 when unknown.
     */
    public record AbsInfo(int min, int max, int fuzz, int flat, int resolution)
    {
        /**
         * @throws IllegalArgumentException when {@code min > max}.
         */
        public AbsInfo
        {
            if (min > max)
            {
                throw new IllegalArgumentException("axis minimum " + min + " is above its maximum " + max);
            }
        }

        /**
         * @return an axis from {@code min} to {@code max} with no fuzz, flat zone or resolution.
         */
        public static AbsInfo range(final int min, final int max)
        {
            return new AbsInfo(min, max, 0, 0, 0);
        }
    }

    private final String name;
    private final byte[] nameBytes;
    private final String serial;
    private final byte[] serialBytes;
    private final int bustype;
    private final int vendor;
    private final int product;
    private final int version;
    private final byte[] properties;
    /** Per event type, its code bitmap ({@value #UNION_SIZE} bytes), or null when the type is not sent. */
    private final byte[][] eventBits;
    private final AbsInfo[] absInfo;

    private InputCapabilities(final Builder b)
    {
        this.nameBytes = ascii(b.name);
        this.name = new String(nameBytes, StandardCharsets.US_ASCII);
        this.serialBytes = ascii(b.serial);
        this.serial = new String(serialBytes, StandardCharsets.US_ASCII);
        this.bustype = b.bustype;
        this.vendor = b.vendor;
        this.product = b.product;
        this.version = b.version;
        this.properties = b.properties.clone();
        this.eventBits = new byte[InputCodes.EV_MAX + 1][];
        for (int t = 0; t < eventBits.length; t++)
        {
            eventBits[t] = null == b.eventBits[t] ? null : b.eventBits[t].clone();
        }
        this.absInfo = b.absInfo.clone();
    }

    /**
     * @param name the device name the guest sees ({@code /sys/class/input/inputN/name}).
     */
    public static Builder builder(final String name)
    {
        return new Builder(name);
    }

    /**
     * @return a builder holding everything this device reports, to derive another from it.
     */
    public Builder toBuilder()
    {
        final Builder b = new Builder(name).serial(serial).ids(bustype, vendor, product, version);
        System.arraycopy(properties, 0, b.properties, 0, UNION_SIZE);
        for (int t = 0; t < eventBits.length; t++)
        {
            b.eventBits[t] = null == eventBits[t] ? null : eventBits[t].clone();
        }
        System.arraycopy(absInfo, 0, b.absInfo, 0, absInfo.length);
        return b;
    }

    /**
     * Keeps printable ASCII (anything else becomes {@code ?}) and cuts to {@link #STRING_MAX} bytes.
     */
    private static byte[] ascii(final String s)
    {
        final int n = Math.min(s.length(), STRING_MAX);
        final byte[] out = new byte[n];
        for (int i = 0; i < n; i++)
        {
            final char c = s.charAt(i);
            out[i] = (byte)(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return out;
    }

    public String name()
    {
        return name;
    }

    /**
     * @return the serial ({@code uniq} in the guest), empty when there is none.
     */
    public String serial()
    {
        return serial;
    }

    public int bustype()
    {
        return bustype;
    }

    public int vendor()
    {
        return vendor;
    }

    public int product()
    {
        return product;
    }

    public int version()
    {
        return version;
    }

    /**
     * @return true when the device sends events of {@code type}.
     */
    public boolean supportsType(final int type)
    {
        return type >= 0 && type <= InputCodes.EV_MAX && null != eventBits[type];
    }

    /**
     * @return true when the device sends {@code code} of {@code type} (EV_SYN is always sent).
     */
    public boolean supports(final int type, final int code)
    {
        if (type == InputSink.EV_SYN)
        {
            return true;
        }
        return supportsType(type) && code >= 0 && code < CONFIG_BITS && isSet(eventBits[type], code);
    }

    /**
     * @return true when input property {@code property} (e.g. {@link InputCodes#INPUT_PROP_DIRECT}) is set.
     */
    public boolean hasProperty(final int property)
    {
        return property >= 0 && property < CONFIG_BITS && isSet(properties, property);
    }

    /**
     * @return the range of axis {@code axis}, or null when the device has no such axis.
     */
    public AbsInfo absInfo(final int axis)
    {
        return axis >= 0 && axis < absInfo.length && supports(InputSink.EV_ABS, axis) ? absInfo[axis] : null;
    }

    /**
     * @return the number of codes of {@code type} the device sends.
     */
    public int codeCount(final int type)
    {
        if (!supportsType(type))
        {
            return 0;
        }
        int n = 0;
        for (final byte b : eventBits[type])
        {
            n += Integer.bitCount(b & 0xFF);
        }
        return n;
    }

    private static boolean isSet(final byte[] bitmap, final int bit)
    {
        return 0 != (bitmap[bit >>> 3] & (1 << (bit & 7)));
    }

    private static int trimmedLength(final byte[] bitmap)
    {
        for (int i = bitmap.length - 1; i >= 0; i--)
        {
            if (0 != bitmap[i])
            {
                return i + 1;
            }
        }
        return 0;
    }

    /**
     * Writes the answer to {@code select}/{@code subsel} into {@code u} and returns its size (see the class comment).
     * Bytes of {@code u} past the size are zeroed; out-of-range or unknown selections answer size 0. Allocates
     * nothing.
     *
     * @param select the config {@code select} byte (0..255).
     * @param subsel the config {@code subsel} byte (0..255).
     * @param u      at least {@link #UNION_SIZE} bytes.
     */
    public int configData(final int select, final int subsel, final MemorySegment u)
    {
        if (u.byteSize() < UNION_SIZE)
        {
            throw new IllegalArgumentException("config union needs " + UNION_SIZE + " bytes, got " + u.byteSize());
        }
        u.asSlice(0, UNION_SIZE).fill((byte)0);
        switch (select)
        {
            case CFG_ID_NAME:
                return subsel == 0 ? copy(nameBytes, nameBytes.length, u) : 0;
            case CFG_ID_SERIAL:
                return subsel == 0 ? copy(serialBytes, serialBytes.length, u) : 0;
            case CFG_ID_DEVIDS:
                if (subsel != 0)
                {
                    return 0;
                }
                u.set(LE16, 0, (short)bustype);
                u.set(LE16, 2, (short)vendor);
                u.set(LE16, 4, (short)product);
                u.set(LE16, 6, (short)version);
                return DEVIDS_SIZE;
            case CFG_PROP_BITS:
                return subsel == 0 ? copy(properties, trimmedLength(properties), u) : 0;
            case CFG_EV_BITS:
                if (subsel == InputSink.EV_SYN || !supportsType(subsel))
                {
                    return 0;
                }
                // A type sent without codes (EV_REP) still answers a non-zero size: that is what declares it.
                return Math.max(1, copy(eventBits[subsel], trimmedLength(eventBits[subsel]), u));
            case CFG_ABS_INFO:
                final AbsInfo info = absInfo(subsel);
                if (null == info)
                {
                    return 0;
                }
                u.set(LE32, 0, info.min());
                u.set(LE32, 4, info.max());
                u.set(LE32, 8, info.fuzz());
                u.set(LE32, 12, info.flat());
                u.set(LE32, 16, info.resolution());
                return ABSINFO_SIZE;
            default:
                return 0;
        }
    }

    private static int copy(final byte[] src, final int length, final MemorySegment u)
    {
        MemorySegment.copy(src, 0, u, ValueLayout.JAVA_BYTE, 0, length);
        return length;
    }

    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder("'").append(name).append("'");
        if (!serial.isEmpty())
        {
            sb.append(" serial '").append(serial).append('\'');
        }
        sb.append(String.format(" bus 0x%04x vendor 0x%04x product 0x%04x version 0x%04x", bustype, vendor, product,
            version));
        for (int t = 1; t < eventBits.length; t++)
        {
            if (null != eventBits[t])
            {
                sb.append(' ').append(InputCodes.typeName(t)).append('(').append(codeCount(t)).append(')');
            }
        }
        return sb.toString();
    }

    @Override
    public boolean equals(final Object o)
    {
        return o instanceof InputCapabilities c && name.equals(c.name) && serial.equals(c.serial)
            && bustype == c.bustype && vendor == c.vendor && product == c.product && version == c.version
            && Arrays.equals(properties, c.properties) && Arrays.deepEquals(eventBits, c.eventBits)
            && Arrays.equals(absInfo, c.absInfo);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(name, bustype, vendor, product, version);
    }

    /**
     * Collects capabilities. Not thread-safe.
     */
    public static final class Builder
    {
        private final String name;
        private String serial = "";
        private int bustype = InputCodes.BUS_VIRTUAL;
        private int vendor;
        private int product;
        private int version;
        private final byte[] properties = new byte[UNION_SIZE];
        private final byte[][] eventBits = new byte[InputCodes.EV_MAX + 1][];
        private final AbsInfo[] absInfo = new AbsInfo[InputCodes.ABS_MAX + 1];

        private Builder(final String name)
        {
            this.name = Objects.requireNonNull(name, "name");
        }

        public Builder serial(final String serial)
        {
            this.serial = Objects.requireNonNull(serial, "serial");
            return this;
        }

        /**
         * {@code struct input_id}: each value is a u16.
         */
        public Builder ids(final int bustype, final int vendor, final int product, final int version)
        {
            this.bustype = u16("bustype", bustype);
            this.vendor = u16("vendor", vendor);
            this.product = u16("product", product);
            this.version = u16("version", version);
            return this;
        }

        private static int u16(final String what, final int value)
        {
            if (value < 0 || value > 0xFFFF)
            {
                throw new IllegalArgumentException(what + " must be 0..0xffff, got 0x" + Integer.toHexString(value));
            }
            return value;
        }

        /**
         * Sets input property {@code property}.
         */
        public Builder property(final int property)
        {
            setBit(properties, checkCode("property", property));
            return this;
        }

        /**
         * Declares event type {@code type} without codes (as EV_REP is).
         */
        public Builder eventType(final int type)
        {
            bitmap(type);
            return this;
        }

        /**
         * Declares code {@code code} of {@code type} (and the type).
         */
        public Builder code(final int type, final int code)
        {
            setBit(bitmap(type), checkCode(InputCodes.typeName(type) + " code", code));
            return this;
        }

        /**
         * Declares codes {@code from..to} (inclusive) of {@code type}.
         */
        public Builder codes(final int type, final int from, final int to)
        {
            for (int c = from; c <= to; c++)
            {
                code(type, c);
            }
            return this;
        }

        /**
         * Removes code {@code code} of {@code type} (the type stays declared).
         */
        public Builder withoutCode(final int type, final int code)
        {
            final byte[] bits = bitmap(type);
            final int c = checkCode(InputCodes.typeName(type) + " code", code);
            bits[c >>> 3] &= (byte)~(1 << (c & 7));
            return this;
        }

        /**
         * Removes event type {@code type} and its codes.
         */
        public Builder withoutType(final int type)
        {
            eventBits[checkType(type)] = null;
            return this;
        }

        /**
         * Declares absolute axis {@code axis} with its range.
         */
        public Builder abs(final int axis, final AbsInfo info)
        {
            if (axis < 0 || axis > InputCodes.ABS_MAX)
            {
                throw new IllegalArgumentException("absolute axis must be 0..0x" + Integer.toHexString(InputCodes.ABS_MAX)
                    + ", got 0x" + Integer.toHexString(axis));
            }
            code(InputSink.EV_ABS, axis);
            absInfo[axis] = Objects.requireNonNull(info, "info");
            return this;
        }

        /**
         * ORs a bitmap as read from a device ({@code EVIOCGBIT}) into type {@code type}'s codes; bits past
         * {@link #CONFIG_BITS} are ignored.
         */
        public Builder bitmap(final int type, final byte[] bits, final int length)
        {
            final byte[] target = bitmap(type);
            for (int i = 0; i < Math.min(length, UNION_SIZE); i++)
            {
                target[i] |= bits[i];
            }
            return this;
        }

        /**
         * ORs an {@code EVIOCGPROP} bitmap into the properties.
         */
        public Builder properties(final byte[] bits, final int length)
        {
            for (int i = 0; i < Math.min(length, UNION_SIZE); i++)
            {
                properties[i] |= bits[i];
            }
            return this;
        }

        /**
         * Adds everything {@code other} sends (types, codes, axes, properties); name, serial and ids stay.
         */
        public Builder merge(final InputCapabilities other)
        {
            properties(other.properties, UNION_SIZE);
            for (int t = 0; t < eventBits.length; t++)
            {
                if (null != other.eventBits[t])
                {
                    bitmap(t, other.eventBits[t], UNION_SIZE);
                }
            }
            for (int a = 0; a < absInfo.length; a++)
            {
                if (null != other.absInfo[a])
                {
                    absInfo[a] = other.absInfo[a];
                }
            }
            return this;
        }

        private byte[] bitmap(final int type)
        {
            final int t = checkType(type);
            if (t == InputSink.EV_SYN)
            {
                throw new IllegalArgumentException("EV_SYN is always sent and is not declared");
            }
            if (null == eventBits[t])
            {
                eventBits[t] = new byte[UNION_SIZE];
            }
            return eventBits[t];
        }

        private static int checkType(final int type)
        {
            if (type < 0 || type > InputCodes.EV_MAX)
            {
                throw new IllegalArgumentException("event type must be 0..0x1f, got 0x" + Integer.toHexString(type));
            }
            return type;
        }

        private static int checkCode(final String what, final int code)
        {
            if (code < 0 || code >= CONFIG_BITS)
            {
                throw new IllegalArgumentException(what + " must be 0.." + (CONFIG_BITS - 1) + ", got " + code);
            }
            return code;
        }

        private static void setBit(final byte[] bitmap, final int bit)
        {
            bitmap[bit >>> 3] |= (byte)(1 << (bit & 7));
        }

        /**
         * @throws IllegalStateException when an absolute axis has no range or the name is empty.
         */
        public InputCapabilities build()
        {
            if (name.isEmpty())
            {
                throw new IllegalStateException("an input device needs a name");
            }
            if (null != eventBits[InputSink.EV_ABS])
            {
                for (int a = 0; a <= InputCodes.ABS_MAX; a++)
                {
                    if (isSet(eventBits[InputSink.EV_ABS], a) && null == absInfo[a])
                    {
                        throw new IllegalStateException("absolute axis 0x" + Integer.toHexString(a)
                            + " of '" + name + "' has no range");
                    }
                }
            }
            return new InputCapabilities(this);
        }
    }
}
