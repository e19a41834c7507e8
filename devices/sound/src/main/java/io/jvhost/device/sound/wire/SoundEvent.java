package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_event}, one notification on the event queue.
 * <pre>
 *  0          4          8
 *  +----------+----------+
 *  | type u32 | data u32 |
 *  +----------+----------+
 * </pre>
 * {@code data} is the jack or stream id the event is about. Little-endian.
 */
public final class SoundEvent
{
    public static final int SIZE = 8;

    private MemorySegment s;

    public SoundEvent wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public SoundEvent set(final int type, final int data)
    {
        s.set(Le.U32, 0, type);
        s.set(Le.U32, 4, data);
        return this;
    }

    public int type()
    {
        return s.get(Le.U32, 0);
    }

    public int data()
    {
        return s.get(Le.U32, 4);
    }
}
