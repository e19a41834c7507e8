package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.jvhost.device.gpu.wire.UpdateCursor;
import io.jvhost.memory.GuestMemory;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The hardware cursor: UPDATE_CURSOR and MOVE_CURSOR from the cursor queue (no responses: a bad command is only
 * logged), its image (64x64, B,G,R,A, converted by the {@link Renderer}), and what a new display or a reset must be
 * told. MOVE_CURSOR allocates nothing. Guarded by the device lock.
 */
final class Cursor
{
    private static final int CURSOR_BYTES = CURSOR_SIZE * CURSOR_SIZE * PixelFormat.BYTES_PER_PIXEL;

    private final int numScanouts;
    private final Renderer renderer;
    private final DisplayOutputs out;
    private final GuestErrors errors;
    private final MemorySegment image = Arena.ofAuto().allocate(CURSOR_BYTES, 64);
    private boolean defined;
    private boolean visible;
    /** A reset hid a visible cursor that the display has not been told about yet. */
    private boolean stale;
    private int scanout;
    private int x;
    private int y;
    private int hotX;
    private int hotY;

    Cursor(final int numScanouts, final Renderer renderer, final DisplayOutputs out, final GuestErrors errors)
    {
        this.numScanouts = numScanouts;
        this.renderer = renderer;
        this.out = out;
        this.errors = errors;
    }

    /**
     * UPDATE_CURSOR (resource 0 hides the cursor) or MOVE_CURSOR.
     */
    void command(final int type, final UpdateCursor request, final GuestMemory memory)
    {
        final long scanoutId = request.scanoutId();
        if (scanoutId >= numScanouts)
        {
            errors.ignoreCursor("scanout " + scanoutId + " >= " + numScanouts);
            return;
        }
        final int newX = request.x();
        final int newY = request.y();
        final int resourceId = request.resourceId();
        scanout = (int)scanoutId;
        x = newX;
        y = newY;
        if (type == CMD_MOVE_CURSOR || 0 == resourceId)
        {
            visible = 0 != resourceId && defined;
            if (out.attached())
            {
                out.moveCursor(scanout, newX, newY, 0 != resourceId);
            }
            return;
        }
        final Resource resource = renderer.resource(resourceId);
        if (null == resource)
        {
            errors.ignoreCursor("no resource " + GuestErrors.id(resourceId));
            return;
        }
        final int loaded = renderer.loadCursor(resource, memory, image);
        if (loaded != Renderer.CURSOR_LOADED)
        {
            errors.ignoreCursor(resource + (loaded == Renderer.CURSOR_NOT_64 ? " is not 64x64"
                : " cannot be a 64x64 cursor"));
            return;
        }
        hotX = request.hotX();
        hotY = request.hotY();
        defined = true;
        visible = true;
        if (out.attached())
        {
            out.defineCursor(scanout, newX, newY, hotX, hotY, image);
        }
    }

    /**
     * A guest reset: no cursor; a visible one is hidden at the next {@link #syncDisplay}.
     */
    void reset()
    {
        if (visible)
        {
            stale = true;
        }
        defined = false;
        visible = false;
    }

    /**
     * A new display was adopted: it is told everything in {@link #announce}.
     */
    void forgetShown()
    {
        stale = false;
    }

    /**
     * Hides the cursor a reset took away.
     */
    void syncDisplay()
    {
        if (stale)
        {
            stale = false;
            if (out.attached())
            {
                out.moveCursor(scanout, x, y, false);
            }
        }
    }

    /**
     * A new display: the cursor's image and position (hidden if it is).
     */
    void announce()
    {
        if (defined && out.defineCursor(scanout, x, y, hotX, hotY, image) && !visible)
        {
            out.moveCursor(scanout, x, y, false);
        }
    }
}
