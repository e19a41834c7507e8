package io.jvhost.display.rfb;

import io.jvhost.device.input.InputSink;

/**
 * Turns viewers' RFB key and pointer events into evdev event groups for an {@link InputSink} (a virtio-input
 * device), each group followed by a SYN_REPORT. Shared by all viewers: a group is sent under this object's monitor,
 * so two viewers' groups never interleave. Without a sink, events are dropped.
 * <p>
 * Pointer: absolute ABS_X/ABS_Y scaled from the scanout shown to {@code 0..}{@link InputSink#ABS_MAX}; the RFB button
 * mask's bits 0-2 (left, middle, right) become BTN_LEFT/BTN_MIDDLE/BTN_RIGHT presses and releases, bits 3/4 (wheel
 * up/down) one REL_WHEEL step +1/-1 on press, bits 5/6 (wheel left/right) one REL_HWHEEL step -1/+1.
 */
public final class InputForwarder
{
    /** evdev REL_HWHEEL. */
    public static final int REL_HWHEEL = 0x06;

    private final InputSink sink;
    private long keys;
    private long pointers;

    /**
     * @param sink where events go; null drops them.
     */
    public InputForwarder(final InputSink sink)
    {
        this.sink = sink;
    }

    /**
     * @return whether events go anywhere.
     */
    public boolean connected()
    {
        return null != sink;
    }

    /**
     * One key pressed or released.
     */
    public synchronized void key(final int evdevCode, final boolean down)
    {
        if (null == sink || evdevCode <= 0)
        {
            return;
        }
        sink.event(InputSink.EV_KEY, evdevCode, down ? 1 : 0);
        sink.sync();
        keys++;
    }

    /**
     * The pointer at ({@code x}, {@code y}) of a {@code width×height} scanout with {@code buttons} down; {@code
     * previousButtons} is what the same viewer reported last.
     */
    public synchronized void pointer(final int x, final int y, final int width, final int height,
        final int buttons, final int previousButtons)
    {
        if (null == sink)
        {
            return;
        }
        sink.event(InputSink.EV_ABS, InputSink.ABS_X, scale(x, width));
        sink.event(InputSink.EV_ABS, InputSink.ABS_Y, scale(y, height));
        final int changed = buttons ^ previousButtons;
        final int pressed = changed & buttons;
        button(changed, buttons, 0, InputSink.BTN_LEFT);
        button(changed, buttons, 1, InputSink.BTN_MIDDLE);
        button(changed, buttons, 2, InputSink.BTN_RIGHT);
        if ((pressed & 1 << 3) != 0)
        {
            sink.event(InputSink.EV_REL, InputSink.REL_WHEEL, 1);
        }
        if ((pressed & 1 << 4) != 0)
        {
            sink.event(InputSink.EV_REL, InputSink.REL_WHEEL, -1);
        }
        if ((pressed & 1 << 5) != 0)
        {
            sink.event(InputSink.EV_REL, REL_HWHEEL, -1);
        }
        if ((pressed & 1 << 6) != 0)
        {
            sink.event(InputSink.EV_REL, REL_HWHEEL, 1);
        }
        sink.sync();
        pointers++;
    }

    private void button(final int changed, final int buttons, final int bit, final int code)
    {
        if ((changed & 1 << bit) != 0)
        {
            sink.event(InputSink.EV_KEY, code, (buttons & 1 << bit) != 0 ? 1 : 0);
        }
    }

    /**
     * @return {@code position} of {@code 0..size-1} scaled to {@code 0..ABS_MAX}, clamped.
     */
    public static int scale(final int position, final int size)
    {
        if (size <= 1)
        {
            return 0;
        }
        final long p = Math.max(0, Math.min(position, size - 1));
        return (int)((p * InputSink.ABS_MAX + (size - 1) / 2) / (size - 1));
    }

    public synchronized long keyEvents()
    {
        return keys;
    }

    public synchronized long pointerEvents()
    {
        return pointers;
    }
}
