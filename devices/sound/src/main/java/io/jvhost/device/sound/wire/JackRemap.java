package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_jack_remap}, the request of JACK_REMAP.
 * <pre>
 *  0          4            8                12           16
 *  +----------+------------+----------------+------------+
 *  | code u32 | jack_id u32| association u32| sequence   |
 *  |          |            |                | u32        |
 *  +----------+------------+----------------+------------+
 * </pre>
 * Little-endian.
 */
public final class JackRemap
{
    public static final int SIZE = 16;

    private MemorySegment s;

    public JackRemap wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public long jackId()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 4));
    }

    public long association()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 8));
    }

    public long sequence()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 12));
    }

    public JackRemap set(final int code, final int jackId, final int association, final int sequence)
    {
        s.set(Le.U32, 0, code);
        s.set(Le.U32, 4, jackId);
        s.set(Le.U32, 8, association);
        s.set(Le.U32, 12, sequence);
        return this;
    }
}
