package io.jvhost.device.can.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A view of one virtio-can structure in the device's scratch buffer (Agrona style: wrapped once, fields read and
 * written in place, little-endian, nothing allocated per request). A flyweight checks no length: the device has
 * checked that the request holds its structure before it reads one.
 */
public abstract class Flyweight
{
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    /**
     * Points this view at {@code scratch}, whose byte 0 is the structure's first byte.
     */
    public final void wrap(final MemorySegment scratch)
    {
        this.buffer = scratch;
    }

    protected final int u8(final int offset)
    {
        return buffer.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    protected final int u16(final int offset)
    {
        return buffer.get(LE16, offset) & 0xFFFF;
    }

    protected final int u32(final int offset)
    {
        return buffer.get(LE32, offset);
    }

    protected final long u64(final int offset)
    {
        return buffer.get(LE64, offset);
    }

    protected final void u8(final int offset, final int value)
    {
        buffer.set(ValueLayout.JAVA_BYTE, offset, (byte)value);
    }

    protected final void u16(final int offset, final int value)
    {
        buffer.set(LE16, offset, (short)value);
    }

    protected final void u32(final int offset, final int value)
    {
        buffer.set(LE32, offset, value);
    }

    protected final void u64(final int offset, final long value)
    {
        buffer.set(LE64, offset, value);
    }

    protected final void zero(final int length)
    {
        for (int i = 0; i < length; i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, i, (byte)0);
        }
    }
}
