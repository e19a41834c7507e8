package io.jvhost.device.gpu.wire;

/**
 * GET_CAPSET_INFO ({@link #capsetIndex}) and GET_CAPSET ({@link #capsetId}, {@link #capsetVersion}).
 * <pre>
 *   0      24                       28                32
 *   +------+------------------------+-----------------+
 *   | hdr  | capset_index / _id     | pad / version   |
 *   +------+------------------------+-----------------+
 * </pre>
 */
public final class GetCapset extends Flyweight
{
    public static final int SIZE = 32;

    public long capsetIndex()
    {
        return u32(24);
    }

    public long capsetId()
    {
        return u32(24);
    }

    public long capsetVersion()
    {
        return u32(28);
    }
}
