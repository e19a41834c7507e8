package io.jvhost.device.gpu.wire;

/**
 * TRANSFER_TO_HOST_3D and TRANSFER_FROM_HOST_3D (through the header's ctx_id, 0 for none).
 * <pre>
 *   0     24                         48       56          60     64      68            72
 *   +-----+--------------------------+--------+-----------+------+-------+-------------+
 *   | hdr | box x,y,z,w,h,d (6 u32)  | offset | resource  | level| stride| layer_stride|
 *   +-----+--------------------------+--------+-----------+------+-------+-------------+
 * </pre>
 */
public final class Transfer3d extends Flyweight
{
    public static final int SIZE = 72;

    public long x()
    {
        return u32(24);
    }

    public long y()
    {
        return u32(28);
    }

    public long z()
    {
        return u32(32);
    }

    public long width()
    {
        return u32(36);
    }

    public long height()
    {
        return u32(40);
    }

    public long depth()
    {
        return u32(44);
    }

    public long offset()
    {
        return u64(48);
    }

    public int resourceId()
    {
        return i32(56);
    }

    public int level()
    {
        return i32(60);
    }

    public int stride()
    {
        return i32(64);
    }

    public int layerStride()
    {
        return i32(68);
    }
}
