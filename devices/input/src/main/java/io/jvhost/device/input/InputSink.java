package io.jvhost.device.input;

/**
 * Where input events go: a virtio-input device's event queue. Events use Linux evdev codes
 * ({@code linux/input-event-codes.h}): e.g. {@code EV_KEY}/{@code KEY_A}, {@code EV_ABS}/{@code ABS_X},
 * {@code EV_SYN}/{@code SYN_REPORT}. Callers send a group of events followed by a SYN_REPORT.
 * <p>
 * Thread-safe and non-blocking: events arrive from viewer threads; when the guest is not taking events fast enough
 * the oldest are dropped (never the caller blocked).
 */
public interface InputSink
{
    int EV_SYN = 0x00;
    int EV_KEY = 0x01;
    int EV_REL = 0x02;
    int EV_ABS = 0x03;
    int EV_LED = 0x11;
    int SYN_REPORT = 0;
    int ABS_X = 0x00;
    int ABS_Y = 0x01;
    int REL_WHEEL = 0x08;
    int BTN_LEFT = 0x110;
    int BTN_RIGHT = 0x111;
    int BTN_MIDDLE = 0x112;
    /** The tablet's absolute axes range from 0 to this value (as QEMU's virtio-tablet). */
    int ABS_MAX = 32767;

    /**
     * Queues one event for the guest.
     */
    void event(int type, int code, int value);

    /**
     * Queues {@code EV_SYN/SYN_REPORT}: the events since the last one form one report.
     */
    default void sync()
    {
        event(EV_SYN, SYN_REPORT, 0);
    }
}
