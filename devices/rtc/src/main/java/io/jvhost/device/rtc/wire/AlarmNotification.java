package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_notif_alarm}, written into an alarmq buffer when a clock's alarm expires.
 * <pre>
 *   0          2              8          10            16
 *   +----------+--------------+----------+-------------+
 *   | msg_type | reserved[6]  | clock_id | reserved[6] |
 *   +----------+--------------+----------+-------------+
 *    msg_type = VIRTIO_RTC_NOTIF_ALARM (0x2000)
 * </pre>
 */
public final class AlarmNotification extends Flyweight
{
    public static final int SIZE = 16;
    public static final int NOTIF_ALARM = 0x2000;

    public int write(final int clockId)
    {
        zero(0, SIZE);
        u16(0, NOTIF_ALARM);
        u16(8, clockId);
        return SIZE;
    }
}
