package io.jvhost.vhostuser.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * What QEMU is to be shown, per scanout: its size (and whether QEMU has been told it), a BGRX shadow framebuffer that
 * updates are converted into, one dirty rectangle (the union of what changed), and the latest cursor image and
 * position. The writer turns it into messages ({@link #compose}): SCANOUT first, then cursor, then the dirty
 * rectangle as UPDATE bands gathered from the shadow, so the latest pixels always win.
 * <p>
 * An UPDATE for a scanout is only ever composed after that scanout's SCANOUT (QEMU dereferences a NULL surface
 * otherwise), and a SCANOUT discards the scanout's dirty state and clears its shadow, as QEMU's new surface starts
 * blank. Shadows are reserved from the device's {@link MemoryBudget} before they are allocated and released when
 * freed (a disabled scanout has none); a shadow an outgoing UPDATE still reads is pinned, and one replaced meanwhile
 * is freed once that message is sent. Guarded by the display's lock.
 */
final class ShadowFramebuffers
{
    private static final System.Logger LOG = System.getLogger(VhostUserGpuDisplay.class.getName());

    /**
     * One scanout's state.
     */
    static final class Scanout
    {
        final int id;
        int width;
        int height;
        /** A SCANOUT with the current size must be sent. */
        boolean scanoutPending;
        /** The SCANOUT for the current size is in the stream: UPDATEs may follow. */
        boolean announced;
        Arena shadowArena;
        MemorySegment shadow;
        long shadowCapacity;
        int dirtyX0;
        int dirtyY0;
        int dirtyX1;
        int dirtyY1;
        MemorySegment cursorImage;
        boolean cursorImagePending;
        int cursorX;
        int cursorY;
        int hotX;
        int hotY;
        boolean movePending;
        int moveX;
        int moveY;
        boolean moveVisible;

        Scanout(final int id)
        {
            this.id = id;
        }

        boolean hasDirty()
        {
            return dirtyX1 > dirtyX0 && dirtyY1 > dirtyY0;
        }

        void clearDirty()
        {
            dirtyX0 = 0;
            dirtyY0 = 0;
            dirtyX1 = 0;
            dirtyY1 = 0;
        }

        void addDirty(final int x0, final int y0, final int x1, final int y1)
        {
            if (!hasDirty())
            {
                dirtyX0 = x0;
                dirtyY0 = y0;
                dirtyX1 = x1;
                dirtyY1 = y1;
            }
            else
            {
                dirtyX0 = Math.min(dirtyX0, x0);
                dirtyY0 = Math.min(dirtyY0, y0);
                dirtyX1 = Math.max(dirtyX1, x1);
                dirtyY1 = Math.max(dirtyY1, y1);
            }
        }

        void freeShadow(final MemoryBudget budget)
        {
            if (null != shadowArena)
            {
                shadowArena.close();
                budget.release(shadowCapacity);
                shadowArena = null;
                shadow = null;
                shadowCapacity = 0;
            }
        }
    }

    private final String name;
    private final MemoryBudget budget;
    private final int maxUpdateBytes;
    private final Arena cursorArena = Arena.ofShared();
    private final Scanout[] scanouts = new Scanout[GpuPayloads.MAX_SCANOUTS];
    private int nextPixelScanout;
    private long droppedUpdates;
    /** The shadow the outgoing UPDATE gathers its pixels from: kept alive until the message is sent. */
    private Arena pinnedShadow;
    /** A shadow replaced while pinned; freed when the outgoing message completes. */
    private Arena retiredShadow;
    private long retiredShadowBytes;

    ShadowFramebuffers(final String name, final MemoryBudget budget, final int maxUpdateBytes)
    {
        this.name = name;
        this.budget = budget;
        this.maxUpdateBytes = maxUpdateBytes;
    }

    private Scanout scanout(final int scanout)
    {
        Scanout s = scanouts[scanout];
        if (null == s)
        {
            s = new Scanout(scanout);
            scanouts[scanout] = s;
        }
        return s;
    }

    /**
     * The scanout now shows {@code width}x{@code height} (0: disabled): a SCANOUT is due, the shadow starts blank.
     *
     * @return false when the shadow does not fit (the scanout is then shown disabled).
     */
    boolean resize(final int scanout, final int width, final int height)
    {
        final boolean disable = width == 0 || height == 0;
        final Scanout s = scanout(scanout);
        s.width = disable ? 0 : width;
        s.height = disable ? 0 : height;
        s.scanoutPending = true;
        s.announced = false;
        s.clearDirty();
        final long bytes = 4L * s.width * s.height;
        if (bytes > 0 && s.shadowCapacity >= bytes && s.shadowCapacity <= 2 * bytes)
        {
            // QEMU's new surface starts blank: so does the shadow.
            s.shadow.asSlice(0, bytes).fill((byte)0);
            return true;
        }
        // Disabled, or a size the shadow does not suit: free it (a disabled scanout holds no memory).
        retireOrFreeShadow(s);
        if (bytes > 0 && !allocateShadow(s, bytes))
        {
            s.width = 0;
            s.height = 0;
            return false;
        }
        return true;
    }

    /**
     * Frees the scanout's shadow, or, while the outgoing UPDATE still reads it, retires it to be freed when that
     * message is sent.
     */
    private void retireOrFreeShadow(final Scanout s)
    {
        if (null != s.shadowArena && s.shadowArena == pinnedShadow)
        {
            retiredShadow = s.shadowArena;
            retiredShadowBytes = s.shadowCapacity;
            s.shadowArena = null;
            s.shadow = null;
            s.shadowCapacity = 0;
        }
        s.freeShadow(budget);
    }

    /**
     * @return false (with one log line) when the budget or the system has no memory for it.
     */
    private boolean allocateShadow(final Scanout s, final long bytes)
    {
        if (!budget.tryReserve(bytes))
        {
            LOG.log(Level.WARNING, name + ": no memory for the " + s.width + "x" + s.height + " shadow of scanout " + s.id
                + ": " + bytes + " bytes, but " + budget.used() + " of the " + budget.limit() + " bytes of "
                + budget.name() + "'s memory budget are in use; showing it disabled");
            return false;
        }
        final Arena arena = Arena.ofShared();
        try
        {
            s.shadow = arena.allocate(bytes, 64);
        }
        catch (final OutOfMemoryError e)
        {
            arena.close();
            budget.release(bytes);
            LOG.log(Level.ERROR, name + ": no memory for the " + s.width + "x" + s.height + " shadow of scanout " + s.id
                + " (" + bytes + " bytes): " + e.getMessage() + "; showing it disabled");
            return false;
        }
        s.shadowArena = arena;
        s.shadowCapacity = bytes;
        return true;
    }

    /**
     * Converts the part of the rectangle inside the scanout into its shadow and marks it dirty.
     *
     * @return false when nothing was painted (the scanout is not set, or the rectangle lies outside it).
     */
    boolean paint(final int scanout, final int x, final int y, final int width, final int height,
        final MemorySegment src, final long offset, final int stride, final PixelFormat format)
    {
        final Scanout s = scanouts[scanout];
        if (null == s || s.width == 0)
        {
            droppedUpdates++;
            return false;
        }
        final int x0 = Math.max(x, 0);
        final int y0 = Math.max(y, 0);
        final int x1 = (int)Math.min((long)x + width, s.width);
        final int y1 = (int)Math.min((long)y + height, s.height);
        if (x1 <= x0 || y1 <= y0)
        {
            droppedUpdates++;
            return false;
        }
        final int columns = x1 - x0;
        final long shadowStride = 4L * s.width;
        long from = offset + (long)(y0 - y) * stride + 4L * (x0 - x);
        long to = y0 * shadowStride + 4L * x0;
        for (int row = y0; row < y1; row++)
        {
            format.toBgrx(src, from, s.shadow, to, columns);
            from += stride;
            to += shadowStride;
        }
        s.addDirty(x0, y0, x1, y1);
        return true;
    }

    void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
        final MemorySegment argb64x64)
    {
        final Scanout s = scanout(scanout);
        if (null == s.cursorImage)
        {
            s.cursorImage = cursorArena.allocate(GpuPayloads.CURSOR_DATA_SIZE, 8);
        }
        MemorySegment.copy(argb64x64, 0, s.cursorImage, 0, GpuPayloads.CURSOR_DATA_SIZE);
        s.cursorX = x;
        s.cursorY = y;
        s.hotX = hotX;
        s.hotY = hotY;
        s.cursorImagePending = true;
        // The new image is shown at its own position: an older move is superseded.
        s.movePending = false;
    }

    void moveCursor(final int scanout, final int x, final int y, final boolean visible)
    {
        final Scanout s = scanout(scanout);
        s.movePending = true;
        s.moveX = x;
        s.moveY = y;
        s.moveVisible = visible;
    }

    /**
     * @return true when {@link #compose} would produce a message.
     */
    boolean hasWork()
    {
        for (final Scanout s : scanouts)
        {
            if (null != s && (s.scanoutPending || s.cursorImagePending || s.movePending
                || (s.announced && s.width > 0 && s.hasDirty())))
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Composes the next message that shows QEMU the state: a SCANOUT, a cursor image or move, or a band of pixels
     * (scanouts take turns).
     *
     * @return its length, or 0 when QEMU is up to date.
     */
    long compose(final OutgoingMessage out)
    {
        for (final Scanout s : scanouts)
        {
            if (null != s && s.scanoutPending)
            {
                s.scanoutPending = false;
                s.announced = true;
                out.putU32(GpuPayloads.SCANOUT_SCANOUT_ID, s.id);
                out.putU32(GpuPayloads.SCANOUT_WIDTH, s.width);
                out.putU32(GpuPayloads.SCANOUT_HEIGHT, s.height);
                return out.controlMessage(GpuRequest.SCANOUT, GpuPayloads.SCANOUT_SIZE);
            }
        }
        for (final Scanout s : scanouts)
        {
            if (null == s)
            {
                continue;
            }
            if (s.cursorImagePending)
            {
                s.cursorImagePending = false;
                putCursorPos(out, s.id, s.cursorX, s.cursorY);
                out.putU32(GpuPayloads.CURSOR_UPDATE_HOT_X, s.hotX);
                out.putU32(GpuPayloads.CURSOR_UPDATE_HOT_Y, s.hotY);
                MemorySegment.copy(s.cursorImage, 0, out.control(),
                    MessageHeader.LENGTH + GpuPayloads.CURSOR_UPDATE_DATA, GpuPayloads.CURSOR_DATA_SIZE);
                return out.controlMessage(GpuRequest.CURSOR_UPDATE, GpuPayloads.CURSOR_UPDATE_SIZE);
            }
            if (s.movePending)
            {
                s.movePending = false;
                putCursorPos(out, s.id, s.moveX, s.moveY);
                return out.controlMessage(s.moveVisible ? GpuRequest.CURSOR_POS : GpuRequest.CURSOR_POS_HIDE,
                    GpuPayloads.CURSOR_POS_SIZE);
            }
        }
        for (int k = 0; k < scanouts.length; k++)
        {
            final int i = (nextPixelScanout + k) % scanouts.length;
            final Scanout s = scanouts[i];
            if (null != s && s.announced && s.width > 0 && s.hasDirty())
            {
                nextPixelScanout = (i + 1) % scanouts.length;
                return composeBand(out, s);
            }
        }
        return 0;
    }

    private static void putCursorPos(final OutgoingMessage out, final int scanout, final int x, final int y)
    {
        out.putU32(GpuPayloads.CURSOR_POS_SCANOUT_ID, scanout);
        out.putU32(GpuPayloads.CURSOR_POS_X, x);
        out.putU32(GpuPayloads.CURSOR_POS_Y, y);
    }

    /**
     * Takes the top band of the scanout's dirty rectangle (as many whole rows as fit the largest UPDATE) as an
     * UPDATE whose pixels are gathered from the shadow, and shrinks the dirty rectangle by it. The shadow stays
     * pinned until the message is sent; pixels changed meanwhile are marked dirty again, so the latest always
     * follow.
     */
    private long composeBand(final OutgoingMessage out, final Scanout s)
    {
        final int columns = s.dirtyX1 - s.dirtyX0;
        final long rowBytes = 4L * columns;
        final boolean contiguous = columns == s.width;
        int rows = (int)Math.max(1, Math.min(s.dirtyY1 - s.dirtyY0, maxUpdateBytes / rowBytes));
        if (!contiguous)
        {
            rows = Math.min(rows, OutgoingMessage.MAX_IOVECS - 1);
        }
        final long shadowStride = 4L * s.width;
        final long first = s.shadow.address() + s.dirtyY0 * shadowStride + 4L * s.dirtyX0;
        final long length = out.update(s.id, s.dirtyX0, s.dirtyY0, columns, rows, first, shadowStride);
        pinnedShadow = s.shadowArena;
        s.dirtyY0 += rows;
        if (s.dirtyY0 >= s.dirtyY1)
        {
            s.clearDirty();
        }
        return length;
    }

    /**
     * The outgoing message went out whole: its shadow may be freed.
     */
    void unpin()
    {
        pinnedShadow = null;
        if (null != retiredShadow)
        {
            retiredShadow.close();
            retiredShadow = null;
            budget.release(retiredShadowBytes);
            retiredShadowBytes = 0;
        }
    }

    long droppedUpdates()
    {
        return droppedUpdates;
    }

    /**
     * Frees every shadow and cursor image; only once nothing sends any more.
     */
    void free()
    {
        for (final Scanout s : scanouts)
        {
            if (null != s)
            {
                s.freeShadow(budget);
                s.cursorImage = null;
            }
        }
        unpin();
        cursorArena.close();
    }
}
