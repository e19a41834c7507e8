package io.jvhost.device.gpu;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.wire.SetScanout;
import io.jvhost.device.gpu.wire.SetScanoutBlob;
import io.jvhost.memory.GuestMemory;

import static io.jvhost.device.gpu.GpuDevice.MAX_DIMENSION;
import static io.jvhost.device.gpu.GpuDevice.MAX_SCANOUT_DIMENSION;
import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * What each scanout shows and what the display was told of it: SET_SCANOUT, SET_SCANOUT_BLOB and RESOURCE_FLUSH,
 * a resource going away, a reset, and a new display that must be told everything. The pixels themselves come from
 * the {@link Renderer}. Guarded by the device lock.
 * <p>
 * A scanout is at most {@link GpuDevice#MAX_SCANOUT_DIMENSION} a side (else ERR_INVALID_PARAMETER); the displays
 * reserve their copies of it from the device's memory budget, and a SET_SCANOUT a display cannot hold is
 * ERR_OUT_OF_MEMORY with the scanout off on every display.
 */
final class Scanouts
{
    /** {@link #target}: the scanout and resource were found (no response code is negative). */
    private static final int TARGET_FOUND = -2;

    private final Scanout[] scanouts;
    private final Renderer renderer;
    private final DisplayOutputs out;
    private final GuestErrors errors;
    private final MemoryBudget budget;
    /** A reset turned scanouts off that the display has not been told about yet. */
    private boolean stale;
    /** The scanout and resource of the SET_SCANOUT(_BLOB) being handled. */
    private Scanout targetScanout;
    private Resource targetResource;

    Scanouts(final int count, final Renderer renderer, final DisplayOutputs out, final GuestErrors errors,
        final MemoryBudget budget)
    {
        this.scanouts = new Scanout[count];
        for (int i = 0; i < count; i++)
        {
            scanouts[i] = new Scanout(i);
        }
        this.renderer = renderer;
        this.out = out;
        this.errors = errors;
        this.budget = budget;
    }

    int count()
    {
        return scanouts.length;
    }

    /**
     * What SET_SCANOUT and SET_SCANOUT_BLOB share: the scanout id, resource 0 disabling the scanout, and the
     * resource lookup.
     *
     * @return {@link #TARGET_FOUND} with {@link #targetScanout} and {@link #targetResource} set, or the response.
     */
    private int target(final SetScanout request)
    {
        final long scanoutId = request.scanoutId();
        final int resourceId = request.resourceId();
        if (scanoutId >= scanouts.length)
        {
            return errors.fail(RESP_ERR_INVALID_SCANOUT_ID, "scanout " + scanoutId + " >= " + scanouts.length);
        }
        final Scanout scanout = scanouts[(int)scanoutId];
        if (0 == resourceId)
        {
            disable(scanout);
            return Command.Handler.OK;
        }
        final Resource resource = renderer.resource(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        targetScanout = scanout;
        targetResource = resource;
        return TARGET_FOUND;
    }

    /**
     * SET_SCANOUT: resource 0 disables the scanout whatever the rectangle; otherwise the rectangle must be a
     * non-empty part of a 2D resource (blobs go through SET_SCANOUT_BLOB).
     */
    int setScanout(final SetScanout request)
    {
        final int target = target(request);
        if (target != TARGET_FOUND)
        {
            return target;
        }
        final Scanout scanout = targetScanout;
        final Resource resource = targetResource;
        if (resource.isBlob())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, resource + " needs SET_SCANOUT_BLOB");
        }
        if (null == resource.format)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, resource + " has a format no display shows");
        }
        final long x = request.x();
        final long y = request.y();
        final long width = request.width();
        final long height = request.height();
        // u32 + u32 cannot overflow a long.
        if (0 == width || 0 == height || x + width > resource.width || y + height > resource.height)
        {
            return errors.rectOutside(x, y, width, height, resource);
        }
        if (width > MAX_SCANOUT_DIMENSION || height > MAX_SCANOUT_DIMENSION)
        {
            return tooLargeToShow(width, height);
        }
        return bind(scanout, resource, (int)x, (int)y, (int)width, (int)height, resource.format, resource.stride, 0);
    }

    /**
     * SET_SCANOUT_BLOB: the scanout shows a framebuffer laid over a guest blob; the rectangle shown must lie inside
     * the framebuffer, and its last byte inside the blob.
     */
    int setScanoutBlob(final SetScanoutBlob request)
    {
        final int target = target(request);
        if (target != TARGET_FOUND)
        {
            return target;
        }
        final Scanout scanout = targetScanout;
        final Resource resource = targetResource;
        if (!resource.isBlob())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, resource + " is not a blob");
        }
        final int formatValue = request.format();
        final PixelFormat format = PixelFormat.of(formatValue);
        if (null == format)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "unknown format "
                + Integer.toUnsignedString(formatValue));
        }
        final long fbWidth = request.fbWidth();
        final long fbHeight = request.fbHeight();
        final long stride = request.stride0();
        final long offset = request.offset0();
        if (0 == fbWidth || 0 == fbHeight || fbWidth > MAX_DIMENSION || fbHeight > MAX_DIMENSION)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "framebuffer " + fbWidth + "x" + fbHeight + " outside 1.."
                + MAX_DIMENSION);
        }
        if (stride < fbWidth * PixelFormat.BYTES_PER_PIXEL || stride > Integer.MAX_VALUE)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "stride " + stride + " for width " + fbWidth);
        }
        final long x = request.x();
        final long y = request.y();
        final long width = request.width();
        final long height = request.height();
        if (0 == width || 0 == height || x + width > fbWidth || y + height > fbHeight)
        {
            return errors.rectOutside(x, y, width, height, "the " + fbWidth + "x" + fbHeight + " framebuffer");
        }
        if (width > MAX_SCANOUT_DIMENSION || height > MAX_SCANOUT_DIMENSION)
        {
            return tooLargeToShow(width, height);
        }
        // Bounded: offset < 2^32, rows <= 2^15, stride < 2^31.
        final long end = offset + (y + height - 1) * stride + (x + width) * PixelFormat.BYTES_PER_PIXEL;
        if (end > resource.blobSize)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "scanout rect ends at byte " + end + " of " + resource);
        }
        return bind(scanout, resource, (int)x, (int)y, (int)width, (int)height, format, (int)stride, offset);
    }

    private int tooLargeToShow(final long width, final long height)
    {
        return errors.fail(RESP_ERR_INVALID_PARAMETER, "a " + width + "x" + height + " scanout is larger than "
            + MAX_SCANOUT_DIMENSION + "x" + MAX_SCANOUT_DIMENSION);
    }

    /**
     * Points the scanout at the resource and tells the display. A display that cannot hold the picture (its memory
     * budget is spent) turns the scanout off everywhere.
     *
     * @return OK, or OUT_OF_MEMORY with the scanout disabled.
     */
    private int bind(final Scanout s, final Resource resource, final int x, final int y, final int width,
        final int height, final PixelFormat format, final int stride, final long offset)
    {
        if (null != s.resource && s.resource != resource)
        {
            s.resource.scanoutMask &= ~(1 << s.index);
        }
        s.resource = resource;
        resource.scanoutMask |= 1 << s.index;
        s.x = x;
        s.y = y;
        s.width = width;
        s.height = height;
        s.format = format;
        s.stride = stride;
        s.offset = offset;
        if (!show(s, width, height))
        {
            disable(s);
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "the display has no memory for scanout " + s.index + " at "
                + width + "x" + height + " (" + budget + "); scanout disabled");
        }
        return Command.Handler.OK;
    }

    private void disable(final Scanout s)
    {
        if (null != s.resource)
        {
            s.resource.scanoutMask &= ~(1 << s.index);
            s.clear();
        }
        show(s, 0, 0);
    }

    /**
     * RESOURCE_UNREF: the scanouts showing {@code resource} are turned off before it goes.
     */
    void release(final Resource resource)
    {
        for (final Scanout s : scanouts)
        {
            if (s.resource == resource)
            {
                disable(s);
            }
        }
    }

    /**
     * Tells the display the scanout's size when it changed (0 x 0: off). A new resource of the same size needs no
     * new surface: the guest flushes it right after.
     *
     * @return false when the display could not hold the picture: every display is then told the scanout is off
     *     (those that took the size give their memory back), so the next SET_SCANOUT asks again.
     */
    private boolean show(final Scanout s, final int width, final int height)
    {
        if (!out.attached() || (s.shownWidth == width && s.shownHeight == height))
        {
            return true;
        }
        if (showOrRefuse(s, width, height))
        {
            return true;
        }
        s.shownWidth = 0;
        s.shownHeight = 0;
        out.setScanout(s.index, 0, 0);
        return false;
    }

    /**
     * Tells the display the new size, and records it as shown.
     *
     * @return false when a display could not hold the picture (it shows the scanout disabled).
     */
    private boolean showOrRefuse(final Scanout s, final int width, final int height)
    {
        final boolean shown = out.setScanout(s.index, width, height);
        s.shownWidth = width;
        s.shownHeight = height;
        return shown;
    }

    /**
     * RESOURCE_FLUSH: presents the rectangle on every scanout showing the resource, clipped to what each shows.
     */
    int flush(final int resourceId, final long x, final long y, final long width, final long height,
        final GuestMemory memory)
    {
        final Resource resource = renderer.resource(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        // A blob has no size of its own: the rectangle is clipped to each scanout's framebuffer rectangle.
        if (!resource.isBlob() && (x + width > resource.width || y + height > resource.height))
        {
            return errors.rectOutside(x, y, width, height, resource);
        }
        if (!out.attached() || 0 == resource.scanoutMask)
        {
            return Command.Handler.OK;
        }
        for (final Scanout s : scanouts)
        {
            if (s.resource == resource)
            {
                present(s, x, y, width, height, memory);
            }
        }
        return Command.Handler.OK;
    }

    /**
     * Sends the part of rectangle (x, y, width, height) — in resource/framebuffer coordinates — that scanout
     * {@code s} shows, in scanout coordinates.
     */
    private void present(final Scanout s, final long x, final long y, final long width, final long height,
        final GuestMemory memory)
    {
        final long left = Math.max(x, s.x);
        final long top = Math.max(y, s.y);
        final long right = Math.min(x + width, (long)s.x + s.width);
        final long bottom = Math.min(y + height, (long)s.y + s.height);
        if (right <= left || bottom <= top || !out.attached())
        {
            return;
        }
        renderer.present(s, left, top, (int)(right - left), (int)(bottom - top), (int)(left - s.x),
            (int)(top - s.y), memory, out);
    }

    /**
     * A guest reset: every scanout off (the display is told at the next {@link #syncDisplay}).
     */
    void reset()
    {
        for (final Scanout s : scanouts)
        {
            s.clear();
        }
        stale = true;
    }

    /**
     * A new display was adopted: it has been told nothing yet (a reset's pending news is part of that).
     */
    void forgetShown()
    {
        for (final Scanout s : scanouts)
        {
            s.shownWidth = 0;
            s.shownHeight = 0;
        }
        stale = false;
    }

    /**
     * Tells the display about scanouts a reset turned off.
     */
    void syncDisplay()
    {
        if (stale)
        {
            stale = false;
            for (final Scanout s : scanouts)
            {
                if (!s.enabled())
                {
                    show(s, 0, 0);
                }
            }
        }
    }

    /**
     * A new display: every enabled scanout is announced (its size, then all of its picture).
     */
    void announce(final GuestMemory memory)
    {
        for (final Scanout s : scanouts)
        {
            if (s.enabled())
            {
                // Not the guest's request: a display that cannot hold the picture (a display replaced a moment
                // ago may still hold its copy) shows it disabled alone, and the guest's next SET_SCANOUT asks again.
                if (!showOrRefuse(s, s.width, s.height))
                {
                    s.shownWidth = 0;
                    s.shownHeight = 0;
                }
                present(s, s.x, s.y, s.width, s.height, memory);
            }
        }
    }
}
