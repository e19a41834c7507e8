package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_chmap_info}, one item of the CHMAP_INFO response.
 * <pre>
 *  0            4           5          6                         24
 *  +------------+-----------+----------+-------------------------+
 *  | hda_fn_nid | direction | channels | positions[18] u8        |
 *  | u32        | u8        | u8       |                         |
 *  +------------+-----------+----------+-------------------------+
 * </pre>
 * Little-endian.
 */
public final class ChmapInfo
{
    public static final int SIZE = 24;
    public static final int MAX_POSITIONS = 18;

    private MemorySegment s;

    public ChmapInfo wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    /**
     * @param positions the channel positions (at most {@link #MAX_POSITIONS}; the rest are NONE).
     */
    public ChmapInfo set(final int hdaFnNid, final int direction, final byte[] positions)
    {
        s.asSlice(0, SIZE).fill((byte)0);
        s.set(Le.U32, 0, hdaFnNid);
        s.set(Le.U8, 4, (byte)direction);
        s.set(Le.U8, 5, (byte)positions.length);
        MemorySegment.copy(positions, 0, s, Le.U8, 6, Math.min(positions.length, MAX_POSITIONS));
        return this;
    }

    public int direction()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 4));
    }

    public int channels()
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 5));
    }

    public int position(final int i)
    {
        return Byte.toUnsignedInt(s.get(Le.U8, 6 + i));
    }
}
