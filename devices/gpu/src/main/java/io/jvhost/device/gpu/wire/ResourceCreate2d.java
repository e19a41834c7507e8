package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * RESOURCE_CREATE_2D.
 * <pre>
 *   0      24            28       32      36       40
 *   +------+-------------+--------+-------+--------+
 *   | hdr  | resource_id | format | width | height |
 *   +------+-------------+--------+-------+--------+
 * </pre>
 */
public final class ResourceCreate2d extends Flyweight
{
    public static final int SIZE = CREATE_2D_SIZE;

    public int resourceId()
    {
        return i32(CREATE_2D_RESOURCE_ID);
    }

    public int format()
    {
        return i32(CREATE_2D_FORMAT);
    }

    public long width()
    {
        return u32(CREATE_2D_WIDTH);
    }

    public long height()
    {
        return u32(CREATE_2D_HEIGHT);
    }
}
