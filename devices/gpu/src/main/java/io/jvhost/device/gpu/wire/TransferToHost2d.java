package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * TRANSFER_TO_HOST_2D.
 * <pre>
 *   0      24                    40             48            52     56
 *   +------+---------------------+--------------+-------------+------+
 *   | hdr  | rect x, y, w, h     | offset (u64) | resource_id | pad  |
 *   +------+---------------------+--------------+-------------+------+
 * </pre>
 */
public final class TransferToHost2d extends Flyweight
{
    public static final int SIZE = TRANSFER_SIZE;

    public long x()
    {
        return u32(TRANSFER_RECT + RECT_X);
    }

    public long y()
    {
        return u32(TRANSFER_RECT + RECT_Y);
    }

    public long width()
    {
        return u32(TRANSFER_RECT + RECT_WIDTH);
    }

    public long height()
    {
        return u32(TRANSFER_RECT + RECT_HEIGHT);
    }

    /**
     * @return the backing offset of the rectangle's first row (a u64: 2^63 and more come back negative).
     */
    public long offset()
    {
        return u64(TRANSFER_OFFSET);
    }

    public int resourceId()
    {
        return i32(TRANSFER_RESOURCE_ID);
    }
}
