package io.jvhost.display.rfb;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.PixelFormat;

/**
 * One scanout's picture as the viewers see it: {@code width×height} pixels, each an int {@code 0x00RRGGBB} (B,G,R,X
 * in memory read as a little-endian int, which is also {@link BufferedImage#TYPE_INT_RGB}).
 * <p>
 * The GPU worker writes ({@link #update}, {@link #resize}) under the framebuffer's monitor and then tells each
 * {@link Listener} (a viewer's session) what changed; a listener only records that, it never blocks. Viewers copy the
 * pixels they need under the same monitor ({@link #captureRect}) and encode and send them without it, so the worker
 * waits at most for a memory copy, never for a viewer.
 * <p>
 * A disabled scanout (0×0) keeps its last size and shows black: an RFB framebuffer cannot be empty. Its pixels are
 * off-heap, reserved from the device's {@link MemoryBudget} while the scanout is enabled and freed (given back) when
 * it is disabled or changes size; a size whose pixels do not fit is shown disabled, and {@link #resize} says so. All
 * access to the pixels is under the monitor, so freeing them there is safe.
 */
public final class Framebuffer
{
    private static final System.Logger LOG = System.getLogger(Framebuffer.class.getName());

    /** The largest width or height kept; RFB sizes are 16 bits. */
    public static final int MAX_DIMENSION = 16384;
    /** The most pixels kept for one scanout (256 MiB). */
    public static final long MAX_PIXELS = 64L << 20;
    /** The size shown before the guest set one. */
    public static final int DEFAULT_WIDTH = 640;
    public static final int DEFAULT_HEIGHT = 480;
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Told about changes, on the writer's thread, without the framebuffer's monitor held. Must not block.
     */
    public interface Listener
    {
        /**
         * Pixels in the rectangle changed (coordinates within the current size).
         */
        void damaged(int x, int y, int width, int height);

        /**
         * The size changed; the whole picture is new.
         */
        void resized(int width, int height);

        /**
         * The guest's cursor on this scanout changed: a new image, or shown or hidden ({@link #cursor()}).
         */
        void cursorChanged();
    }

    private final int index;
    private final MemoryBudget budget;
    /** Copied on change, so that telling listeners allocates nothing (an iterator would, on every update). */
    private volatile Listener[] listeners = new Listener[0];
    private final Object listenersLock = new Object();
    private final Cursor cursor = new Cursor();
    private int width;
    private int height;
    private boolean enabled;
    private boolean closed;
    /** The picture while enabled (width × height pixels); null while disabled (all black). */
    private MemorySegment pixels;
    private Arena pixelArena;
    private long updates;

    /**
     * With no bound on its memory beyond {@link #MAX_PIXELS} (tests, tools).
     *
     * @param index the scanout number.
     */
    public Framebuffer(final int index)
    {
        this(index, MemoryBudget.unlimited("scanout " + index));
    }

    /**
     * @param index  the scanout number.
     * @param budget what the pixels are reserved from (the device's).
     */
    public Framebuffer(final int index, final MemoryBudget budget)
    {
        this.index = index;
        this.budget = Objects.requireNonNull(budget, "budget");
        this.width = DEFAULT_WIDTH;
        this.height = DEFAULT_HEIGHT;
    }

    public int index()
    {
        return index;
    }

    public synchronized int width()
    {
        return width;
    }

    public synchronized int height()
    {
        return height;
    }

    /**
     * @return true while the guest shows something on this scanout.
     */
    public synchronized boolean enabled()
    {
        return enabled;
    }

    /**
     * @return updates applied so far.
     */
    public synchronized long updates()
    {
        return updates;
    }

    public void addListener(final Listener listener)
    {
        synchronized (listenersLock)
        {
            final Listener[] now = listeners;
            final Listener[] next = Arrays.copyOf(now, now.length + 1);
            next[now.length] = listener;
            listeners = next;
        }
    }

    public void removeListener(final Listener listener)
    {
        synchronized (listenersLock)
        {
            final Listener[] now = listeners;
            for (int i = 0; i < now.length; i++)
            {
                if (now[i] == listener)
                {
                    final Listener[] next = new Listener[now.length - 1];
                    System.arraycopy(now, 0, next, 0, i);
                    System.arraycopy(now, i + 1, next, i, now.length - i - 1);
                    listeners = next;
                    return;
                }
            }
        }
    }

    /**
     * The scanout shows a {@code newWidth×newHeight} image now; 0×0 disables it (black, last size kept, pixels
     * freed). The same size again keeps the pixels (a re-announcement is followed by a full update anyway).
     *
     * @return false when the picture is too large or its pixels do not fit the budget: the scanout is then shown
     *     disabled.
     */
    public boolean resize(final int newWidth, final int newHeight)
    {
        final boolean disable = newWidth <= 0 || newHeight <= 0;
        if (!disable && (newWidth > MAX_DIMENSION || newHeight > MAX_DIMENSION
            || (long)newWidth * newHeight > MAX_PIXELS))
        {
            LOG.log(Level.WARNING, "scanout " + index + ": " + newWidth + "x" + newHeight + " is too large for the"
                + " viewers (at most " + MAX_DIMENSION + " a side and " + MAX_PIXELS + " pixels); shown disabled");
            resize(0, 0);
            return false;
        }
        final boolean sizeChanged;
        boolean shown = true;
        final boolean nowEnabled;
        final int w;
        final int h;
        synchronized (this)
        {
            if (closed)
            {
                return true;
            }
            if (disable)
            {
                enabled = false;
                freePixelsLocked();
                sizeChanged = false;
            }
            else
            {
                sizeChanged = newWidth != width || newHeight != height;
                if (sizeChanged || null == pixels)
                {
                    freePixelsLocked();
                    final long bytes = 4L * newWidth * newHeight;
                    if (budget.tryReserve(bytes))
                    {
                        pixelArena = Arena.ofShared();
                        pixels = pixelArena.allocate(bytes, 64);
                        width = newWidth;
                        height = newHeight;
                    }
                    else
                    {
                        LOG.log(Level.WARNING, "scanout " + index + ": no memory for the viewers' " + newWidth + "x"
                            + newHeight + " picture: " + bytes + " bytes, but " + budget.used() + " of the "
                            + budget.limit() + " bytes of " + budget.name() + "'s memory budget are in use; shown"
                            + " disabled");
                        shown = false;
                    }
                }
                enabled = shown;
            }
            nowEnabled = enabled;
            w = width;
            h = height;
        }
        final boolean resized = sizeChanged && shown;
        for (final Listener l : listeners)
        {
            if (resized)
            {
                l.resized(w, h);
            }
            else if (!nowEnabled)
            {
                l.damaged(0, 0, w, h);
            }
        }
        return shown;
    }

    private void freePixelsLocked()
    {
        if (null != pixelArena)
        {
            pixelArena.close();
            budget.release(pixels.byteSize());
            pixelArena = null;
            pixels = null;
        }
    }

    /**
     * Frees the pixels (the viewers see black); later calls change nothing. Idempotent.
     */
    public void close()
    {
        synchronized (this)
        {
            closed = true;
            enabled = false;
            freePixelsLocked();
        }
    }

    /**
     * Copies (converting to B,G,R,X) a changed rectangle: its first pixel at {@code offset} in {@code src}, rows
     * {@code stride} bytes apart. Parts outside the current size are ignored; an update of a disabled scanout is
     * dropped.
     */
    public void update(final int x, final int y, final int rectWidth, final int rectHeight, final MemorySegment src,
        final long offset, final int stride, final PixelFormat format)
    {
        final int x0;
        final int y0;
        final int x1;
        final int y1;
        synchronized (this)
        {
            if (!enabled)
            {
                return;
            }
            x0 = Math.max(x, 0);
            y0 = Math.max(y, 0);
            x1 = (int)Math.min((long)x + rectWidth, width);
            y1 = (int)Math.min((long)y + rectHeight, height);
            if (x1 <= x0 || y1 <= y0)
            {
                return;
            }
            final int columns = x1 - x0;
            final long rowBytes = 4L * width;
            long from = offset + (long)(y0 - y) * stride + 4L * (x0 - x);
            long to = y0 * rowBytes + 4L * x0;
            for (int row = y0; row < y1; row++)
            {
                format.toBgrx(src, from, pixels, to, columns);
                from += stride;
                to += rowBytes;
            }
            updates++;
        }
        for (final Listener l : listeners)
        {
            l.damaged(x0, y0, x1 - x0, y1 - y0);
        }
    }

    /**
     * @return the guest's cursor on this scanout (its own monitor, not the framebuffer's).
     */
    public Cursor cursor()
    {
        return cursor;
    }

    /**
     * Copies a new cursor image (64×64, B,G,R,A) with its hotspot, shows it and tells the listeners.
     */
    public void defineCursor(final int hotX, final int hotY, final MemorySegment argb64x64)
    {
        cursor.define(hotX, hotY, argb64x64);
        cursorChanged();
    }

    /**
     * Shows or hides the cursor; listeners hear only of a change (the guest moves its cursor far more often than it
     * shows or hides it, and the viewers draw the moves themselves).
     */
    public void showCursor(final boolean visible)
    {
        if (cursor.show(visible))
        {
            cursorChanged();
        }
    }

    /**
     * Takes {@code from}'s cursor image (the guest's cursor moved here from another scanout); visibility is left to
     * {@link #showCursor}.
     */
    public void copyCursorFrom(final Framebuffer from)
    {
        if (cursor.copyImageFrom(from.cursor) && cursor.visible())
        {
            cursorChanged();
        }
    }

    private void cursorChanged()
    {
        for (final Listener l : listeners)
        {
            l.cursorChanged();
        }
    }

    /**
     * Sets pixels from an int array of {@code 0x00RRGGBB} values (tests, and callers that have ints).
     */
    public void update(final int x, final int y, final int rectWidth, final int rectHeight, final int[] rgb)
    {
        if (rgb.length < rectWidth * rectHeight)
        {
            throw new IllegalArgumentException("rgb has " + rgb.length + " pixels, a " + rectWidth + "x" + rectHeight
                + " rectangle needs " + rectWidth * rectHeight);
        }
        update(x, y, rectWidth, rectHeight, MemorySegment.ofArray(rgb), 0, rectWidth * 4, PixelFormat.B8G8R8X8);
    }

    /**
     * Clips rectangles ({@code x, y, w, h} quadruples in {@code rects}) in place to the current size and to
     * {@code maxWidth×maxHeight}; empty ones are dropped.
     *
     * @return the rectangles left, packed at the start of {@code rects}.
     */
    public synchronized int clip(final int[] rects, final int count, final int maxWidth, final int maxHeight)
    {
        final int limitX = Math.min(width, maxWidth);
        final int limitY = Math.min(height, maxHeight);
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            final int x0 = Math.max(0, rects[4 * i]);
            final int y0 = Math.max(0, rects[4 * i + 1]);
            final int x1 = (int)Math.min(limitX, (long)rects[4 * i] + rects[4 * i + 2]);
            final int y1 = (int)Math.min(limitY, (long)rects[4 * i + 1] + rects[4 * i + 3]);
            if (x1 <= x0 || y1 <= y0)
            {
                continue;
            }
            rects[4 * kept] = x0;
            rects[4 * kept + 1] = y0;
            rects[4 * kept + 2] = x1 - x0;
            rects[4 * kept + 3] = y1 - y0;
            kept++;
        }
        return kept;
    }

    /**
     * Copies the {@code w×h} rectangle at ({@code x}, {@code y}) into {@code dst} from index 0, row by row. Whatever
     * lies outside the current picture (it shrank since the rectangle was clipped) or a disabled picture is black, so
     * the rectangle is always whole.
     */
    public synchronized void captureRect(final int x, final int y, final int w, final int h, final int[] dst)
    {
        final int columns = null == pixels ? 0 : Math.max(0, Math.min(w, width - x));
        int at = 0;
        for (int row = 0; row < h; row++)
        {
            final int sy = y + row;
            if (columns > 0 && sy < height)
            {
                MemorySegment.copy(pixels, PIXEL, 4L * ((long)sy * width + x), dst, at, columns);
                if (columns < w)
                {
                    Arrays.fill(dst, at + columns, at + w, 0);
                }
            }
            else
            {
                Arrays.fill(dst, at, at + w, 0);
            }
            at += w;
        }
    }

    /**
     * @return a copy of the picture as an image (for PNG snapshots).
     */
    public BufferedImage snapshot()
    {
        final BufferedImage image;
        synchronized (this)
        {
            image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            if (null != pixels)
            {
                final int[] data = ((DataBufferInt)image.getRaster().getDataBuffer()).getData();
                MemorySegment.copy(pixels, PIXEL, 0, data, 0, width * height);
            }
        }
        return image;
    }

    /**
     * @return the pixel at (x, y) as {@code 0x00RRGGBB} (tests).
     */
    public synchronized int pixel(final int x, final int y)
    {
        return null == pixels ? 0 : pixels.get(PIXEL, 4L * ((long)y * width + x)) & 0xFF_FFFF;
    }

    /**
     * A growable int array that {@link #captureRect} copies pixels into, its capacity reserved from a memory budget
     * (a viewer's buffer). Single-threaded.
     */
    public static final class IntBuffer
    {
        private final MemoryBudget budget;
        private int[] data = new int[0];

        /**
         * Unaccounted (tests).
         */
        public IntBuffer()
        {
            this(null);
        }

        /**
         * @param budget what growth is reserved from; null: unaccounted.
         */
        public IntBuffer(final MemoryBudget budget)
        {
            this.budget = budget;
        }

        /**
         * @return an array of at least {@code count} ints (its contents are not kept).
         * @throws MemoryBudget.ExceededException when the budget cannot hold the growth (nothing changes then).
         */
        public int[] ensure(final int count)
        {
            if (data.length < count)
            {
                if (null != budget)
                {
                    budget.reserve(4L * (count - data.length), "a viewer's pixel buffer of " + count + " pixels");
                }
                data = new int[count];
            }
            return data;
        }

        public int[] array()
        {
            return data;
        }

        /**
         * Drops the array and gives its reservation back.
         */
        public void release()
        {
            if (null != budget)
            {
                budget.release(4L * data.length);
            }
            data = new int[0];
        }
    }

    @Override
    public String toString()
    {
        return "Framebuffer[" + index + ", " + width() + "x" + height() + (enabled() ? "" : ", disabled") + "]";
    }
}
