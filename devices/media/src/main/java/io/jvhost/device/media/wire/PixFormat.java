package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_format} (208 bytes in the 64-bit layout) holding a single-planar {@code struct v4l2_pix_format},
 * the payload of G_FMT, S_FMT and TRY_FMT.
 * <pre>
 *   0      4     8       12     16          20     24           28           32        36         40
 *   +------+-----+-------+------+-----------+------+------------+------------+---------+----------+
 *   | type | pad | width |height|pixelformat| field|bytesperline| sizeimage  |colorspace| priv    |
 *   +------+-----+-------+------+-----------+------+------------+------------+---------+----------+
 *   40      44         48             52          56                       208
 *   +-------+----------+--------------+-----------+------------------------+
 *   | flags | ycbcr_enc| quantization | xfer_func | rest of fmt.raw_data   |
 *   +-------+----------+--------------+-----------+------------------------+
 * </pre>
 */
public final class PixFormat extends Flyweight
{
    public static final int SIZE = 208;

    public int type()
    {
        return u32(0);
    }

    public int width()
    {
        return u32(8);
    }

    public int height()
    {
        return u32(12);
    }

    public int pixelformat()
    {
        return u32(16);
    }

    /**
     * Writes the whole format (type, then the pix format; everything else zero).
     */
    public void set(final int type, final int width, final int height, final int pixelformat, final int field,
        final int bytesperline, final int sizeimage, final int colorspace)
    {
        zero(0, SIZE);
        u32(0, type);
        u32(8, width);
        u32(12, height);
        u32(16, pixelformat);
        u32(20, field);
        u32(24, bytesperline);
        u32(28, sizeimage);
        u32(32, colorspace);
    }
}
