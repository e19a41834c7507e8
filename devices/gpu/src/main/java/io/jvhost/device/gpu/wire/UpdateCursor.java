package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * UPDATE_CURSOR and MOVE_CURSOR (cursor queue; MOVE_CURSOR ignores the fields after the position).
 * <pre>
 *   0      24           28  32  36     40            44      48      52     56
 *   +------+------------+---+---+------+-------------+-------+-------+------+
 *   | hdr  | scanout_id | x | y | pad  | resource_id | hot_x | hot_y | pad  |
 *   +------+------------+---+---+------+-------------+-------+-------+------+
 * </pre>
 */
public final class UpdateCursor extends Flyweight
{
    public static final int SIZE = CURSOR_CMD_SIZE;

    public long scanoutId()
    {
        return u32(CURSOR_SCANOUT_ID);
    }

    /**
     * @return x, signed: a cursor may hang off the left edge.
     */
    public int x()
    {
        return i32(CURSOR_X);
    }

    /**
     * @return y, signed: a cursor may hang off the top edge.
     */
    public int y()
    {
        return i32(CURSOR_Y);
    }

    public int resourceId()
    {
        return i32(CURSOR_RESOURCE_ID);
    }

    public int hotX()
    {
        return i32(CURSOR_HOT_X);
    }

    public int hotY()
    {
        return i32(CURSOR_HOT_Y);
    }
}
