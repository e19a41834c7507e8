package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_pcm_set_params}, the request of PCM_SET_PARAMS.
 * <pre>
 *  0          4              8                12               16             20        21       22     23      24
 *  +----------+--------------+----------------+----------------+--------------+---------+--------+------+-------+
 *  | code u32 | stream_id u32| buffer_bytes   | period_bytes   | features u32 | channels| format | rate | pad   |
 *  |          |              | u32            | u32            |              | u8      | u8     | u8   | u8    |
 *  +----------+--------------+----------------+----------------+--------------+---------+--------+------+-------+
 * </pre>
 * Little-endian.
 */
public final class PcmSetParams
{
    public static final int SIZE = 24;

    private MemorySegment s;

    public PcmSetParams wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public long streamId()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 4));
    }

    public long bufferBytes()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 8));
    }

    public long periodBytes()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 12));
    }

    public int features()
    {
        return s.get(Le.U32, 16);
    }

    public int channels()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 20));
    }

    public int format()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 21));
    }

    public int rate()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 22));
    }

    public PcmSetParams set(final int code, final int streamId, final int bufferBytes, final int periodBytes,
        final int features, final int channels, final int format, final int rate)
    {
        s.set(Le.U32, 0, code);
        s.set(Le.U32, 4, streamId);
        s.set(Le.U32, 8, bufferBytes);
        s.set(Le.U32, 12, periodBytes);
        s.set(Le.U32, 16, features);
        s.set(Le.U8, 20, (byte)channels);
        s.set(Le.U8, 21, (byte)format);
        s.set(Le.U8, 22, (byte)rate);
        s.set(Le.U8, 23, (byte)0);
        return this;
    }
}
