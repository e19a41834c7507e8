package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import io.jvhost.device.DeviceContext;

import static io.jvhost.device.gpu.GpuProtocol.CONTROL_QUEUE;

/**
 * The one place the device calls its display, and the one place a display's failure stops: every call is guarded, a
 * display that throws is logged (rate-limited, with the guest's errors) and the device goes on as if the call had
 * done nothing. Also which display is attached: {@link #offer}/{@link #withdraw} publish a new one from any thread,
 * and the worker {@link #adopt}s it before its next command, so a new display is always told about a scanout before
 * it gets pixels for it.
 * <p>
 * Calls other than {@link #offer}/{@link #withdraw} are made on the worker, under the device lock.
 */
final class DisplayOutputs
{
    private final GuestErrors errors;
    private final AtomicReference<DisplaySlot> offered = new AtomicReference<>();
    private DisplaySlot active;
    private GpuDisplay display;
    /** The context whose control worker the display reads its answers on. */
    private DeviceContext watchedContext;

    DisplayOutputs(final GuestErrors errors)
    {
        this.errors = errors;
    }

    /**
     * Any thread: {@code next} replaces the display at the worker's next {@link #adopt} (the same display offered
     * again is still a change: it is announced everything again).
     */
    void offer(final GpuDisplay next)
    {
        offered.set(new DisplaySlot(Objects.requireNonNull(next, "display")));
    }

    /**
     * Any thread: no display from the worker's next {@link #adopt} on.
     */
    void withdraw()
    {
        offered.set(null);
    }

    /**
     * Takes the display last offered, and makes sure the display reads its answers on the current connection's
     * control worker.
     *
     * @return true when the display changed (the caller announces the device's state to the new one, if any).
     */
    boolean adopt(final DeviceContext context)
    {
        final DisplaySlot slot = offered.get();
        if (slot != active)
        {
            active = slot;
            offerWorker(display, null);
            display = null == slot ? null : slot.display();
            offerWorker(display, context);
            return true;
        }
        if (null != display && watchedContext != context)
        {
            // A new connection (new workers): the display's answers are read on the new control worker.
            offerWorker(display, null);
            offerWorker(display, context);
        }
        return false;
    }

    /**
     * Offers {@code target} this worker for reading its answers (a context), or takes the offer back (null).
     */
    private void offerWorker(final GpuDisplay target, final DeviceContext on)
    {
        if (null == target)
        {
            return;
        }
        try
        {
            target.readRepliesOn(null == on ? null : on.watcher(CONTROL_QUEUE));
            watchedContext = on;
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("readRepliesOn", e);
        }
    }

    boolean attached()
    {
        return null != display;
    }

    /**
     * @return the display attached (null: none), to tell whether a request was asked of this very display.
     */
    GpuDisplay current()
    {
        return display;
    }

    /**
     * @return false only when the display said it cannot hold the picture; a display that throws counts as showing
     *     it (its failure is logged, the guest is not refused for it).
     */
    boolean setScanout(final int scanout, final int width, final int height)
    {
        try
        {
            return display.setScanout(scanout, width, height);
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("setScanout", e);
            return true;
        }
    }

    /**
     * @return false when the display threw (the rest of a multi-part update is not sent).
     */
    boolean updateScanout(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
    {
        try
        {
            display.updateScanout(scanout, x, y, width, height, pixels, offset, stride, format);
            return true;
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("updateScanout", e);
            return false;
        }
    }

    /**
     * @return false when the display threw.
     */
    boolean defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment image)
    {
        try
        {
            display.defineCursor(scanout, x, y, hotX, hotY, image);
            return true;
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("defineCursor", e);
            return false;
        }
    }

    void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        try
        {
            display.moveCursor(scanout, x, y, visible);
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("moveCursor", e);
        }
    }

    /**
     * @return false when the display cannot answer (or threw): then the defaults apply at once.
     */
    boolean requestDisplayInfo(final GpuDisplay target, final Consumer<DisplayMode[]> done)
    {
        try
        {
            return target.requestDisplayInfo(done);
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("requestDisplayInfo", e);
            return false;
        }
    }

    /**
     * @return false when the display cannot answer (or threw): then the defaults apply at once.
     */
    boolean requestEdid(final GpuDisplay target, final int scanout, final Consumer<byte[]> done)
    {
        try
        {
            return target.requestEdid(scanout, done);
        }
        catch (final RuntimeException e)
        {
            errors.displayFailed("requestEdid", e);
            return false;
        }
    }

    /**
     * The display offered, boxed so that offering the same display again is still a change.
     */
    private record DisplaySlot(GpuDisplay display)
    {
    }
}
