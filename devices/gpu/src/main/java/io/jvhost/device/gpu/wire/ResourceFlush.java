package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * RESOURCE_FLUSH.
 * <pre>
 *   0      24                    40            44     48
 *   +------+---------------------+-------------+------+
 *   | hdr  | rect x, y, w, h     | resource_id | pad  |
 *   +------+---------------------+-------------+------+
 * </pre>
 */
public final class ResourceFlush extends Flyweight
{
    public static final int SIZE = FLUSH_SIZE;

    public long x()
    {
        return u32(FLUSH_RECT + RECT_X);
    }

    public long y()
    {
        return u32(FLUSH_RECT + RECT_Y);
    }

    public long width()
    {
        return u32(FLUSH_RECT + RECT_WIDTH);
    }

    public long height()
    {
        return u32(FLUSH_RECT + RECT_HEIGHT);
    }

    public int resourceId()
    {
        return i32(FLUSH_RESOURCE_ID);
    }
}
