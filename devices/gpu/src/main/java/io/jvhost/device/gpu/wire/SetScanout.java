package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * SET_SCANOUT; SET_SCANOUT_BLOB starts with the same fields ({@link SetScanoutBlob}).
 * <pre>
 *   0      24                    40           44            48
 *   +------+---------------------+------------+-------------+
 *   | hdr  | rect x, y, w, h     | scanout_id | resource_id |
 *   +------+---------------------+------------+-------------+
 * </pre>
 */
public class SetScanout extends Flyweight
{
    public static final int SIZE = SET_SCANOUT_SIZE;

    public final long x()
    {
        return u32(SET_SCANOUT_RECT + RECT_X);
    }

    public final long y()
    {
        return u32(SET_SCANOUT_RECT + RECT_Y);
    }

    public final long width()
    {
        return u32(SET_SCANOUT_RECT + RECT_WIDTH);
    }

    public final long height()
    {
        return u32(SET_SCANOUT_RECT + RECT_HEIGHT);
    }

    public final long scanoutId()
    {
        return u32(SET_SCANOUT_SCANOUT_ID);
    }

    public final int resourceId()
    {
        return i32(SET_SCANOUT_RESOURCE_ID);
    }
}
