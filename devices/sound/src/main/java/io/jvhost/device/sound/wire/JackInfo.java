package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_jack_info}, one item of the JACK_INFO response.
 * <pre>
 *  0              4              8                  12               16          17             24
 *  +--------------+--------------+------------------+----------------+-----------+--------------+
 *  | hda_fn_nid   | features u32 | hda_reg_defconf  | hda_reg_caps   | connected | padding[7]   |
 *  | u32          |              | u32              | u32            | u8        |              |
 *  +--------------+--------------+------------------+----------------+-----------+--------------+
 * </pre>
 * Little-endian.
 */
public final class JackInfo
{
    public static final int SIZE = 24;

    private MemorySegment s;

    public JackInfo wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public JackInfo set(final int hdaFnNid, final int features, final int defconf, final int caps,
        final boolean connected)
    {
        s.asSlice(0, SIZE).fill((byte)0);
        s.set(Le.U32, 0, hdaFnNid);
        s.set(Le.U32, 4, features);
        s.set(Le.U32, 8, defconf);
        s.set(Le.U32, 12, caps);
        s.set(Le.U8, 16, (byte)(connected ? 1 : 0));
        return this;
    }

    public int hdaFnNid()
    {
        return s.get(Le.U32, 0);
    }

    public int features()
    {
        return s.get(Le.U32, 4);
    }

    public int defconf()
    {
        return s.get(Le.U32, 8);
    }

    public int caps()
    {
        return s.get(Le.U32, 12);
    }

    public boolean connected()
    {
        return s.get(Le.U8, 16) != 0;
    }
}
