package io.jvhost.device.gpu.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A view of one virtio-gpu structure in a buffer that holds the request, in the Agrona style: the device wraps its
 * request scratch buffer once and reads each request through the same view, so decoding allocates nothing. Fields
 * are read on demand, little-endian (virtio 1.x), with their offset in the structure; a flyweight checks no length
 * (the command table checks the request is as long as its structure before a handler reads it).
 */
public abstract class Flyweight
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    /**
     * Points this view at {@code requestBuffer}, whose byte 0 is the first byte of the request's header.
     */
    public final void wrap(final MemorySegment requestBuffer)
    {
        this.buffer = Objects.requireNonNull(requestBuffer, "requestBuffer");
    }

    /**
     * @return the u32 at {@code offset}, zero-extended (sizes and coordinates compared as numbers).
     */
    protected final long u32(final int offset)
    {
        return buffer.get(U32, offset) & 0xFFFF_FFFFL;
    }

    /**
     * @return the u32 at {@code offset} as a Java int (ids, formats, flags and signed positions).
     */
    protected final int i32(final int offset)
    {
        return buffer.get(U32, offset);
    }

    /**
     * @return the u64 at {@code offset} (values of 2^63 and more come back negative).
     */
    protected final long u64(final int offset)
    {
        return buffer.get(U64, offset);
    }

    /**
     * @return the u8 at {@code offset}.
     */
    protected final int u8(final int offset)
    {
        return buffer.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }
}
