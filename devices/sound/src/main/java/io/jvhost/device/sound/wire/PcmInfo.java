package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_pcm_info}, one item of the PCM_INFO response.
 * <pre>
 *  0            4              8              16             24          25            26            27       32
 *  +------------+--------------+--------------+--------------+-----------+-------------+-------------+--------+
 *  | hda_fn_nid | features u32 | formats u64  | rates u64    | direction | channels_min| channels_max| pad[5] |
 *  | u32        |              |              |              | u8        | u8          | u8          |        |
 *  +------------+--------------+--------------+--------------+-----------+-------------+-------------+--------+
 * </pre>
 * Little-endian.
 */
public final class PcmInfo
{
    public static final int SIZE = 32;

    private MemorySegment s;

    public PcmInfo wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public PcmInfo set(final int hdaFnNid, final int features, final long formats, final long rates,
        final int direction, final int channelsMin, final int channelsMax)
    {
        s.asSlice(0, SIZE).fill((byte)0);
        s.set(Le.U32, 0, hdaFnNid);
        s.set(Le.U32, 4, features);
        s.set(Le.U64, 8, formats);
        s.set(Le.U64, 16, rates);
        s.set(Le.U8, 24, (byte)direction);
        s.set(Le.U8, 25, (byte)channelsMin);
        s.set(Le.U8, 26, (byte)channelsMax);
        return this;
    }

    public int features()
    {
        return s.get(Le.U32, 4);
    }

    public long formats()
    {
        return s.get(Le.U64, 8);
    }

    public long rates()
    {
        return s.get(Le.U64, 16);
    }

    public int direction()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 24));
    }

    public int channelsMin()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 25));
    }

    public int channelsMax()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 26));
    }
}
