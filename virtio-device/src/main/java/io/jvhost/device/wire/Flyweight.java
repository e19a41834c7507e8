package io.jvhost.device.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A view of one little-endian device structure in a scratch buffer (wrapped once, fields read and written in place;
 * nothing allocated per request): the base of the virtio-media (V4L2, 64-bit layouts whatever the guest's
 * architecture), virtio-video, virtio-rtc and virtio-can wire structures. A flyweight checks no length: the device
 * has checked that the request or payload holds its structure.
 */
public abstract class Flyweight
{
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;
    private long base;

    /**
     * Points this view at {@code scratch}, whose byte {@code offset} is the structure's first byte.
     */
    public final void wrap(final MemorySegment scratch, final long offset)
    {
        this.buffer = scratch;
        this.base = offset;
    }

    public final void wrap(final MemorySegment scratch)
    {
        wrap(scratch, 0);
    }

    protected final int u8(final int offset)
    {
        return buffer.get(ValueLayout.JAVA_BYTE, base + offset) & 0xFF;
    }

    protected final int u16(final int offset)
    {
        return buffer.get(LE16, base + offset) & 0xFFFF;
    }

    protected final int u32(final int offset)
    {
        return buffer.get(LE32, base + offset);
    }

    protected final long u64(final int offset)
    {
        return buffer.get(LE64, base + offset);
    }

    protected final void u8(final int offset, final int value)
    {
        buffer.set(ValueLayout.JAVA_BYTE, base + offset, (byte)value);
    }

    protected final void u16(final int offset, final int value)
    {
        buffer.set(LE16, base + offset, (short)value);
    }

    protected final void u32(final int offset, final int value)
    {
        buffer.set(LE32, base + offset, value);
    }

    protected final void u64(final int offset, final long value)
    {
        buffer.set(LE64, base + offset, value);
    }

    /**
     * Zeroes {@code length} bytes from the structure's {@code offset}.
     */
    protected final void zero(final int offset, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, base + offset + i, (byte)0);
        }
    }

    /**
     * Writes {@code text} (ASCII) NUL-padded into the {@code size}-byte field at {@code offset}, cut to leave a NUL.
     */
    protected final void ascii(final int offset, final int size, final String text)
    {
        final int n = Math.min(text.length(), size - 1);
        for (int i = 0; i < size; i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, base + offset + i, i < n ? (byte)text.charAt(i) : 0);
        }
    }
}
