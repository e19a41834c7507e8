package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_req_read}, {@code _req_clock_cap} and {@code _req_read_alarm}: the same layout.
 * <pre>
 *   0      8          10             16
 *   +------+----------+--------------+
 *   | head | clock_id | reserved[6]  |
 *   +------+----------+--------------+
 * </pre>
 */
public final class ClockRequest extends Flyweight
{
    public static final int SIZE = 16;

    public int clockId()
    {
        return u16(8);
    }
}
