package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_frmsizeenum} (44 bytes), the payload of ENUM_FRAMESIZES, answered with a stepwise range.
 * <pre>
 *   0       4              8      12                                                           36            44
 *   +-------+--------------+------+-----------------------------------------------------------+-------------+
 *   | index | pixel_format | type | stepwise: min_width max_width step_width                  | reserved[2] |
 *   |       |              |      |           min_height max_height step_height (6 x le32)    |             |
 *   +-------+--------------+------+-----------------------------------------------------------+-------------+
 * </pre>
 */
public final class FrmSizeEnum extends Flyweight
{
    public static final int SIZE = 44;
    /** V4L2_FRMSIZE_TYPE_STEPWISE. */
    public static final int TYPE_STEPWISE = 3;

    public int index()
    {
        return u32(0);
    }

    public int pixelFormat()
    {
        return u32(4);
    }

    public void stepwise(final int minWidth, final int maxWidth, final int stepWidth, final int minHeight,
        final int maxHeight, final int stepHeight)
    {
        u32(8, TYPE_STEPWISE);
        u32(12, minWidth);
        u32(16, maxWidth);
        u32(20, stepWidth);
        u32(24, minHeight);
        u32(28, maxHeight);
        u32(32, stepHeight);
        zero(36, 8);
    }
}
