package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * Every virtio-rtc response: {@code struct virtio_rtc_resp_head} and the fields that follow it, written into the
 * scratch buffer before they are copied into the chain. Each writer method zeroes the whole response first (reserved
 * bytes are 0) and returns its size, which Linux requires exactly for an OK response.
 * <pre>
 *   0        1             8                 16                24
 *   +--------+-------------+-----------------+-----------------+
 *   | status | reserved[7] | (per response)  | (per response)  |
 *   +--------+-------------+-----------------+-----------------+
 *   CFG        le16 num_clocks, reserved[6]                          16 bytes
 *   CLOCK_CAP  u8 type, u8 leap_second_smearing, u8 flags, res[5]   16
 *   CROSS_CAP  u8 flags, reserved[7]                                16
 *   READ       le64 clock_reading                                   16
 *   READ_CROSS le64 clock_reading, le64 counter_cycles              24
 *   READ_ALARM le64 alarm_time, u8 flags, reserved[7]               24
 *   SET_ALARM, SET_ALARM_ENABLED, and any error: the head alone     8
 * </pre>
 */
public final class Response extends Flyweight
{
    public static final int HEAD_SIZE = 8;
    /** The largest response. */
    public static final int MAX_SIZE = 24;

    public int status(final int status)
    {
        zero(0, HEAD_SIZE);
        u8(0, status);
        return HEAD_SIZE;
    }

    public int cfg(final int numClocks)
    {
        zero(0, 16);
        u16(8, numClocks);
        return 16;
    }

    public int clockCap(final int type, final int leapSecondSmearing, final int flags)
    {
        zero(0, 16);
        u8(8, type);
        u8(9, leapSecondSmearing);
        u8(10, flags);
        return 16;
    }

    public int crossCap(final int flags)
    {
        zero(0, 16);
        u8(8, flags);
        return 16;
    }

    public int read(final long clockReading)
    {
        zero(0, 16);
        u64(8, clockReading);
        return 16;
    }

    public int readAlarm(final long alarmTime, final int flags)
    {
        zero(0, 24);
        u64(8, alarmTime);
        u8(16, flags);
        return 24;
    }

    /**
     * @return the status byte of the response in the buffer.
     */
    public int status()
    {
        return u8(0);
    }
}
