package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_req_read_cross} and {@code _req_cross_cap}.
 * <pre>
 *   0      8          10           11            16
 *   +------+----------+------------+-------------+
 *   | head | clock_id | hw_counter | reserved[5] |
 *   +------+----------+------------+-------------+
 * </pre>
 */
public final class CrossRequest extends Flyweight
{
    public static final int SIZE = 16;

    public int clockId()
    {
        return u16(8);
    }

    public int hwCounter()
    {
        return u8(10);
    }
}
