package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

import io.jvhost.device.FdWatcher;

/**
 * Several displays behind one {@link GpuDevice}: QEMU's (through the vhost-user-gpu socket, which comes and goes with
 * every DRIVER_OK, VM stop and guest reset) and jvhost's own viewers (which stay).
 * <p>
 * <b>Output</b> (scanouts, updates, cursor) goes to every member in turn; a member that throws is logged
 * (rate-limited) and the others still get the call. <b>Requests</b> (display info, EDID) go to the members in order of
 * priority and the first that can answer ({@code true}) is the one asked: QEMU's display is added with
 * {@link #add(GpuDisplay, boolean) priority}, so with QEMU present its xres/yres win; without it, a member that cannot
 * answer (jvhost's own viewers) leaves the device on its defaults.
 * <p>
 * <b>Membership</b> may change at any time from any thread. The members are an immutable array swapped under a lock
 * and read without one on the worker. After a member is added the composite {@linkplain GpuDevice#setDisplay
 * re-attaches} itself to its device, so the device announces every enabled scanout (setScanout, then a full update)
 * and the cursor again before any further output: the new member starts from a full picture, and the others see a
 * same-size setScanout and a full repaint, which they must tolerate. Removing a member needs no re-announcement.
 */
public final class CompositeDisplay implements GpuDisplay
{
    private static final System.Logger LOG = System.getLogger(CompositeDisplay.class.getName());
    private static final GpuDisplay[] NONE = new GpuDisplay[0];

    private final String name;
    private final RateLimitedLog failureLog;
    private volatile GpuDisplay[] members = NONE;
    private volatile Runnable outputsListener;
    private GpuDevice device;

    /**
     * @param name for logs, e.g. {@code gpu0}.
     */
    public CompositeDisplay(final String name)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.failureLog = new RateLimitedLog(LOG, name);
    }

    /**
     * Attaches this composite to {@code gpu} (replacing any display it had); later membership changes re-attach it so
     * that new members get a full picture.
     */
    public void attachTo(final GpuDevice gpu)
    {
        Objects.requireNonNull(gpu, "gpu");
        synchronized (this)
        {
            device = gpu;
        }
        gpu.setDisplay(this);
    }

    /**
     * Adds {@code display} after the current members (it answers requests only when none before it can).
     */
    public void add(final GpuDisplay display)
    {
        add(display, false);
    }

    /**
     * Adds {@code display}; with {@code priority} it goes first, so it is asked display requests before the others.
     * Adding a member already present moves it. The device (if attached) re-announces its scanouts.
     */
    public void add(final GpuDisplay display, final boolean priority)
    {
        replace(null, display, priority);
    }

    /**
     * Removes {@code display} if it is a member; output calls already under way may still reach it.
     *
     * @return true when it was a member.
     */
    public boolean remove(final GpuDisplay display)
    {
        synchronized (this)
        {
            final GpuDisplay[] current = members;
            final GpuDisplay[] next = without(current, display);
            if (next.length == current.length)
            {
                return false;
            }
            members = next;
        }
        LOG.log(Level.DEBUG, () -> name + ": display " + display + " removed, " + members.length + " left");
        // It no longer hears from the device: it reads its answers on its own again.
        display.readRepliesOn(null);
        return true;
    }

    /**
     * Puts {@code next} in the place of {@code previous} (or adds it, with {@code priority}, when {@code previous} is
     * null or not a member) in one step, then has the device re-announce its scanouts.
     */
    public void replace(final GpuDisplay previous, final GpuDisplay next, final boolean priority)
    {
        Objects.requireNonNull(next, "next");
        if (next == this)
        {
            throw new IllegalArgumentException("a composite display cannot contain itself: " + name);
        }
        final GpuDevice gpu;
        final int count;
        synchronized (this)
        {
            final GpuDisplay[] base = without(members, next);
            final int at = null == previous ? -1 : indexOf(base, previous);
            final GpuDisplay[] result;
            if (at >= 0)
            {
                result = base.clone();
                result[at] = next;
            }
            else
            {
                result = new GpuDisplay[base.length + 1];
                System.arraycopy(base, 0, result, priority ? 1 : 0, base.length);
                result[priority ? 0 : base.length] = next;
            }
            members = result;
            count = result.length;
            gpu = device;
        }
        LOG.log(Level.DEBUG, () -> name + ": display " + next + (null == previous ? " added" : " replaced "
            + previous) + ", " + count + " in all");
        final Runnable listener = outputsListener;
        if (null != listener && null == gpu)
        {
            tellOutputsListener(next, listener);
        }
        if (null != gpu)
        {
            gpu.setDisplay(this);
        }
    }

    /**
     * Passes the listener on to every member, and to members added later.
     */
    @Override
    public void setOutputsListener(final Runnable outputsChanged)
    {
        outputsListener = outputsChanged;
        for (final GpuDisplay d : members)
        {
            tellOutputsListener(d, outputsChanged);
        }
    }

    private void tellOutputsListener(final GpuDisplay display, final Runnable outputsChanged)
    {
        try
        {
            display.setOutputsListener(outputsChanged);
        }
        catch (final RuntimeException e)
        {
            failed(display, "setOutputsListener", e);
        }
    }

    /**
     * Passes the offer on to every member (those that receive answers take it).
     */
    @Override
    public void readRepliesOn(final FdWatcher watcher)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                d.readRepliesOn(watcher);
            }
            catch (final RuntimeException e)
            {
                failed(d, "readRepliesOn", e);
            }
        }
    }

    /**
     * @return a copy of the members, first (highest priority) first.
     */
    public GpuDisplay[] members()
    {
        return members.clone();
    }

    /**
     * Asks the first member that can answer.
     *
     * @return false when no member can.
     */
    @Override
    public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                if (d.requestDisplayInfo(done))
                {
                    return true;
                }
            }
            catch (final RuntimeException e)
            {
                failed(d, "requestDisplayInfo", e);
            }
        }
        return false;
    }

    /**
     * Asks the first member that can answer.
     *
     * @return false when no member can.
     */
    @Override
    public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                if (d.requestEdid(scanout, done))
                {
                    return true;
                }
            }
            catch (final RuntimeException e)
            {
                failed(d, "requestEdid", e);
            }
        }
        return false;
    }

    /**
     * Every member is told; a member that throws is logged and does not count as a refusal.
     *
     * @return false when any member could not hold the picture (the device then disables the scanout on all).
     */
    @Override
    public boolean setScanout(final int scanout, final int width, final int height)
    {
        boolean all = true;
        for (final GpuDisplay d : members)
        {
            try
            {
                all &= d.setScanout(scanout, width, height);
            }
            catch (final RuntimeException e)
            {
                failed(d, "setScanout", e);
            }
        }
        return all;
    }

    @Override
    public void updateScanout(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                d.updateScanout(scanout, x, y, width, height, pixels, offset, stride, format);
            }
            catch (final RuntimeException e)
            {
                failed(d, "updateScanout", e);
            }
        }
    }

    @Override
    public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment argb64x64)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                d.defineCursor(scanout, x, y, hotX, hotY, argb64x64);
            }
            catch (final RuntimeException e)
            {
                failed(d, "defineCursor", e);
            }
        }
    }

    @Override
    public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        for (final GpuDisplay d : members)
        {
            try
            {
                d.moveCursor(scanout, x, y, visible);
            }
            catch (final RuntimeException e)
            {
                failed(d, "moveCursor", e);
            }
        }
    }

    private void failed(final GpuDisplay display, final String call, final RuntimeException e)
    {
        synchronized (failureLog)
        {
            if (!failureLog.allow())
            {
                return;
            }
        }
        LOG.log(Level.WARNING, name + ": display " + display + " failed in " + call + ": " + e, e);
    }

    private static int indexOf(final GpuDisplay[] array, final GpuDisplay display)
    {
        for (int i = 0; i < array.length; i++)
        {
            if (array[i] == display)
            {
                return i;
            }
        }
        return -1;
    }

    private static GpuDisplay[] without(final GpuDisplay[] array, final GpuDisplay display)
    {
        final int at = indexOf(array, display);
        if (at < 0)
        {
            return array;
        }
        final GpuDisplay[] next = Arrays.copyOf(array, array.length - 1);
        System.arraycopy(array, at + 1, next, at, array.length - at - 1);
        return next;
    }

    @Override
    public String toString()
    {
        return "CompositeDisplay[" + name + ", " + members.length + " displays]";
    }
}
