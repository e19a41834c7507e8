package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_input} (80 bytes in the 64-bit layout), the payload of ENUMINPUT.
 * <pre>
 *   0       4          36     40         44      48           56       60             64            76     80
 *   +-------+----------+------+----------+-------+------------+--------+--------------+-------------+------+
 *   | index | name[32] | type | audioset | tuner | std (le64) | status | capabilities | reserved[3] | pad  |
 *   +-------+----------+------+----------+-------+------------+--------+--------------+-------------+------+
 * </pre>
 */
public final class Input extends Flyweight
{
    public static final int SIZE = 80;
    /** V4L2_INPUT_TYPE_CAMERA. */
    public static final int TYPE_CAMERA = 2;

    public int index()
    {
        return u32(0);
    }

    public void describe(final String name, final int type)
    {
        ascii(4, 32, name);
        u32(36, type);
        zero(40, SIZE - 40);
    }
}
