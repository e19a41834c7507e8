package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_fmtdesc} (64 bytes), the payload of ENUM_FMT.
 * <pre>
 *   0       4      8       12                 44            48          52            64
 *   +-------+------+-------+------------------+-------------+-----------+-------------+
 *   | index | type | flags | description[32]  | pixelformat | mbus_code | reserved[3] |
 *   +-------+------+-------+------------------+-------------+-----------+-------------+
 * </pre>
 */
public final class FmtDesc extends Flyweight
{
    public static final int SIZE = 64;

    public int index()
    {
        return u32(0);
    }

    public int type()
    {
        return u32(4);
    }

    public void describe(final String description, final int pixelformat)
    {
        u32(8, 0);
        ascii(12, 32, description);
        u32(44, pixelformat);
        zero(48, 16);
    }
}
