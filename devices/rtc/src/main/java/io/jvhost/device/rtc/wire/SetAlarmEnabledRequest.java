package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_req_set_alarm_enabled}.
 * <pre>
 *   0      8          10      11            16
 *   +------+----------+-------+-------------+
 *   | head | clock_id | flags | reserved[5] |
 *   +------+----------+-------+-------------+
 * </pre>
 */
public final class SetAlarmEnabledRequest extends Flyweight
{
    public static final int SIZE = 16;

    public int clockId()
    {
        return u16(8);
    }

    public int flags()
    {
        return u8(10);
    }
}
