package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_i2c_out_hdr}, the device-readable start of every request (a flyweight over the device's
 * scratch buffer).
 * <pre>
 *   0      2         4       8
 *   +------+---------+-------+
 *   | addr | padding | flags |
 *   +------+---------+-------+
 *   addr:  le16, the 7-bit client address shifted left by one
 *   flags: le32, bit 0 FAIL_NEXT (more messages of this transfer follow), bit 1 M_RD (a read)
 * </pre>
 * The request continues with the data to write (device-readable) or the buffer to read into (device-writable),
 * and ends with {@code struct virtio_i2c_in_hdr}, one device-writable status byte.
 */
final class OutHeader
{
    static final int SIZE = 8;
    static final int FLAG_FAIL_NEXT = 1;
    static final int FLAG_M_RD = 1 << 1;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    OutHeader wrap(final MemorySegment scratch)
    {
        this.buffer = scratch;
        return this;
    }

    /**
     * @return the wire's addr field as sent (the 7-bit address is this shifted right by one).
     */
    int rawAddr()
    {
        return buffer.get(LE16, 0) & 0xFFFF;
    }

    int flags()
    {
        return buffer.get(LE32, 4);
    }
}
