package io.jvhost.device.template;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The header of a template request, read through this view (a flyweight: one instance wraps the device's scratch
 * buffer and reads each request's fields in place, so decoding allocates nothing). Little-endian, as every virtio 1.x
 * structure.
 * <pre>
 *   0        4        8
 *   +--------+--------+---------------+
 *   | op     | length | data[length]  |   device-readable
 *   +--------+--------+---------------+
 * </pre>
 * {@code length} is the guest's claim: the device checks it against what the chain really holds before it trusts it.
 */
final class TemplateRequest
{
    /** Bytes of the fixed part. */
    static final int SIZE = 8;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    /**
     * Points this view at {@code header}, whose byte 0 is the request's first byte.
     */
    TemplateRequest wrap(final MemorySegment header)
    {
        this.buffer = header;
        return this;
    }

    int op()
    {
        return buffer.get(LE32, 0);
    }

    /**
     * @return the payload length the guest claims, zero-extended.
     */
    long length()
    {
        return buffer.get(LE32, 4) & 0xFFFF_FFFFL;
    }
}
