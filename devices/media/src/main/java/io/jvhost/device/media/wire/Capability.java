package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_capability} (104 bytes), the payload of QUERYCAP.
 * <pre>
 *   0            16          48              80        84             88            92            104
 *   +------------+-----------+---------------+---------+--------------+-------------+-------------+
 *   | driver[16] | card[32]  | bus_info[32]  | version | capabilities | device_caps | reserved[3] |
 *   +------------+-----------+---------------+---------+--------------+-------------+-------------+
 * </pre>
 */
public final class Capability extends Flyweight
{
    public static final int SIZE = 104;

    public void set(final String driver, final String card, final String busInfo, final int version,
        final int capabilities, final int deviceCaps)
    {
        zero(0, SIZE);
        ascii(0, 16, driver);
        ascii(16, 32, card);
        ascii(48, 32, busInfo);
        u32(80, version);
        u32(84, capabilities);
        u32(88, deviceCaps);
    }

    public int deviceCaps()
    {
        return u32(88);
    }

    public int capabilities()
    {
        return u32(84);
    }

    /**
     * @return the card name, up to its first NUL.
     */
    public String card()
    {
        final StringBuilder s = new StringBuilder();
        for (int i = 16; i < 48 && u8(i) != 0; i++)
        {
            s.append((char)u8(i));
        }
        return s.toString();
    }
}
