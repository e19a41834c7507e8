package io.jvhost.device.rtc;

import java.util.function.LongSupplier;

import io.jvhost.os.HostClock;
import io.jvhost.os.NativeException;

/**
 * One virtio-rtc clock: its virtio type, where its time comes from, and its alarm, when it has one (vhost-device-rtc
 * gives the UTC clock the only alarm). The alarm is plain state: the device decides when it fires.
 */
public final class RtcClock
{
    public static final int TYPE_UTC = 0;
    public static final int TYPE_TAI = 1;
    public static final int TYPE_MONOTONIC = 2;
    public static final int TYPE_UTC_SMEARED = 3;
    public static final int TYPE_UTC_MAYBE_SMEARED = 4;

    public static final int SMEAR_UNSPECIFIED = 0;

    private final String name;
    private final int type;
    private final LongSupplier nanos;
    private final boolean alarmCapable;
    private long alarmTime;
    private boolean alarmEnabled;
    private boolean alarmArmed;

    /**
     * @param nanos the clock's time in nanoseconds, {@link HostClock#FAILED} when it cannot be read.
     */
    public RtcClock(final String name, final int type, final LongSupplier nanos, final boolean alarmCapable)
    {
        this.name = name;
        this.type = type;
        this.nanos = nanos;
        this.alarmCapable = alarmCapable;
    }

    /**
     * The host's CLOCK_REALTIME as vhost-device-rtc offers it: type UTC_SMEARED (Linux makes an RTC class device, the
     * guest's {@code /dev/rtcN}, only from such a clock), smearing unspecified, with the alarm.
     */
    public static RtcClock utc() throws NativeException
    {
        final HostClock c = HostClock.open(HostClock.CLOCK_REALTIME);
        return new RtcClock("UTC", TYPE_UTC_SMEARED, c::nanos, true);
    }

    public static RtcClock tai() throws NativeException
    {
        final HostClock c = HostClock.open(HostClock.CLOCK_TAI);
        return new RtcClock("TAI", TYPE_TAI, c::nanos, false);
    }

    public static RtcClock monotonic() throws NativeException
    {
        final HostClock c = HostClock.open(HostClock.CLOCK_MONOTONIC);
        return new RtcClock("monotonic", TYPE_MONOTONIC, c::nanos, false);
    }

    public String name()
    {
        return name;
    }

    public int type()
    {
        return type;
    }

    /**
     * @return the time in nanoseconds, or {@link HostClock#FAILED}.
     */
    public long read()
    {
        return nanos.getAsLong();
    }

    public boolean alarmCapable()
    {
        return alarmCapable;
    }

    public long alarmTime()
    {
        return alarmTime;
    }

    public boolean alarmEnabled()
    {
        return alarmEnabled;
    }

    /**
     * @return true while an enabled alarm has not been notified yet.
     */
    boolean alarmArmed()
    {
        return alarmArmed;
    }

    void setAlarm(final long time, final boolean enabled)
    {
        alarmTime = time;
        setAlarmEnabled(enabled);
    }

    void setAlarmEnabled(final boolean enabled)
    {
        alarmEnabled = enabled;
        alarmArmed = enabled;
    }

    /**
     * The alarm's notification reached the driver: it stays enabled (as in vhost-device-rtc; the driver disables it)
     * but does not fire again until it is set or enabled again.
     */
    void alarmNotified()
    {
        alarmArmed = false;
    }

    /**
     * A device reset keeps the alarm time and its enabled state (virtio-rtc "Alarm Operation": the device may retain
     * alarm times across resets, like other alarm clocks, for a driver resuming from sleep), and the reset is itself
     * an expiration event for an enabled alarm whose time is not in the future: an enabled alarm is armed again.
     */
    void alarmAfterReset()
    {
        alarmArmed = alarmEnabled;
    }

    /**
     * Back to the initial state (alarm time 0, disabled): for a new front-end, another machine that must not see
     * this one's alarm.
     */
    void clearAlarm()
    {
        alarmTime = 0;
        alarmEnabled = false;
        alarmArmed = false;
    }
}
