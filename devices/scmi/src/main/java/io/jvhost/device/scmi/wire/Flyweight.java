package io.jvhost.device.scmi.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A view of one SCMI structure in the device's scratch buffer (Agrona style: wrapped once, fields read and written
 * in place, little-endian, nothing allocated per message). A flyweight checks no length: the device has checked that
 * the message holds the fields it reads, and sized the response to the room it has.
 */
public abstract class Flyweight
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    /**
     * Points this view at {@code scratch}, whose byte 0 is the structure's first byte.
     */
    public final void wrap(final MemorySegment scratch)
    {
        this.buffer = scratch;
    }

    protected final int u32(final long offset)
    {
        return buffer.get(LE32, offset);
    }

    protected final void u32(final long offset, final int value)
    {
        buffer.set(LE32, offset, value);
    }

    /**
     * Copies {@code bytes} (a NUL-padded SCMI string, 16 bytes) to {@code offset}.
     */
    protected final void bytes(final long offset, final byte[] bytes)
    {
        MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, offset, bytes.length);
    }
}
