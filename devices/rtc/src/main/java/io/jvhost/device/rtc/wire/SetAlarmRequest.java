package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_req_set_alarm}.
 * <pre>
 *   0      8            16         18      19            24
 *   +------+------------+----------+-------+-------------+
 *   | head | alarm_time | clock_id | flags | reserved[5] |
 *   +------+------------+----------+-------+-------------+
 * </pre>
 * {@code alarm_time} is in nanoseconds of the clock's own time scale; flag bit 0 is ALARM_ENABLED.
 */
public final class SetAlarmRequest extends Flyweight
{
    public static final int SIZE = 24;

    public long alarmTime()
    {
        return u64(8);
    }

    public int clockId()
    {
        return u16(16);
    }

    public int flags()
    {
        return u8(18);
    }
}
