package io.jvhost.display.rfb;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import io.jvhost.device.gpu.PixelFormat;

/**
 * One scanout's picture as the viewers see it: {@code width×height} pixels, each an int {@code 0x00RRGGBB} (B,G,R,X
 * in memory read as a little-endian int, which is also {@link BufferedImage#TYPE_INT_RGB}).
 * <p>
 * The GPU worker writes ({@link #update}, {@link #resize}) under the framebuffer's monitor and then tells each
 * {@link Listener} (a viewer's session) what changed; a listener only records that, it never blocks. Viewers copy the
 * pixels they need under the same monitor ({@link #capture}) and encode and send them without it, so the worker waits
 * at most for a memory copy, never for a viewer.
 * <p>
 * A disabled scanout (0×0) keeps its last size and shows black: an RFB framebuffer cannot be empty.
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
    /** Copied on change, so that telling listeners allocates nothing (an iterator would, on every update). */
    private volatile Listener[] listeners = new Listener[0];
    private final Object listenersLock = new Object();
    private final Cursor cursor = new Cursor();
    private int width;
    private int height;
    private boolean enabled;
    private int[] pixels;
    private MemorySegment view;
    private long updates;

    /**
     * @param index the scanout number.
     */
    public Framebuffer(final int index)
    {
        this.index = index;
        this.width = DEFAULT_WIDTH;
        this.height = DEFAULT_HEIGHT;
        this.pixels = new int[width * height];
        this.view = MemorySegment.ofArray(pixels);
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
     * The scanout shows a {@code newWidth×newHeight} image now; 0×0 disables it (black, last size kept). The same
     * size again keeps the pixels (a re-announcement is followed by a full update anyway).
     */
    public void resize(final int newWidth, final int newHeight)
    {
        final boolean disable = newWidth <= 0 || newHeight <= 0;
        if (!disable && (newWidth > MAX_DIMENSION || newHeight > MAX_DIMENSION
            || (long)newWidth * newHeight > MAX_PIXELS))
        {
            LOG.log(Level.WARNING, "scanout " + index + ": " + newWidth + "x" + newHeight + " is too large for the"
                + " viewers (at most " + MAX_DIMENSION + " a side and " + MAX_PIXELS + " pixels); shown disabled");
            resize(0, 0);
            return;
        }
        final boolean sizeChanged;
        final int w;
        final int h;
        synchronized (this)
        {
            if (disable)
            {
                enabled = false;
                Arrays.fill(pixels, 0);
                sizeChanged = false;
            }
            else
            {
                enabled = true;
                sizeChanged = newWidth != width || newHeight != height;
                if (sizeChanged)
                {
                    width = newWidth;
                    height = newHeight;
                    pixels = new int[newWidth * newHeight];
                    view = MemorySegment.ofArray(pixels);
                }
            }
            w = width;
            h = height;
        }
        for (final Listener l : listeners)
        {
            if (sizeChanged)
            {
                l.resized(w, h);
            }
            else if (disable)
            {
                l.damaged(0, 0, w, h);
            }
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
                format.toBgrx(src, from, view, to, columns);
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
     * Copies the pixels of rectangles into {@code dst}, one rectangle after another, row by row. The rectangles
     * ({@code x, y, w, h} quadruples in {@code rects}) are first clipped in place to the current size and to
     * {@code maxWidth×maxHeight}; empty ones are dropped.
     *
     * @param size receives the current width and height.
     * @return the rectangles left (their quadruples are packed at the start of {@code rects}), and {@code dst} must
     *     hold their pixels: check with {@link #capacityFor}.
     */
    public synchronized int capture(final int[] rects, final int count, final int maxWidth, final int maxHeight,
        final int[] size, final IntBuffer dst)
    {
        size[0] = width;
        size[1] = height;
        final int limitX = Math.min(width, maxWidth);
        final int limitY = Math.min(height, maxHeight);
        int kept = 0;
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            final int x0 = Math.max(0, rects[4 * i]);
            final int y0 = Math.max(0, rects[4 * i + 1]);
            final int x1 = Math.min(limitX, rects[4 * i] + rects[4 * i + 2]);
            final int y1 = Math.min(limitY, rects[4 * i + 1] + rects[4 * i + 3]);
            if (x1 <= x0 || y1 <= y0)
            {
                continue;
            }
            rects[4 * kept] = x0;
            rects[4 * kept + 1] = y0;
            rects[4 * kept + 2] = x1 - x0;
            rects[4 * kept + 3] = y1 - y0;
            total += (long)(x1 - x0) * (y1 - y0);
            kept++;
        }
        final int[] out = dst.ensure((int)total);
        int at = 0;
        for (int i = 0; i < kept; i++)
        {
            final int x0 = rects[4 * i];
            final int y0 = rects[4 * i + 1];
            final int w = rects[4 * i + 2];
            final int h = rects[4 * i + 3];
            for (int row = 0; row < h; row++)
            {
                System.arraycopy(pixels, (y0 + row) * width + x0, out, at, w);
                at += w;
            }
        }
        return kept;
    }

    /**
     * @return a copy of the picture as an image (for PNG snapshots).
     */
    public BufferedImage snapshot()
    {
        final int w;
        final int h;
        final int[] copy;
        synchronized (this)
        {
            w = width;
            h = height;
            copy = pixels.clone();
        }
        final BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        final int[] data = ((DataBufferInt)image.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < copy.length; i++)
        {
            data[i] = copy[i] & 0xFF_FFFF;
        }
        return image;
    }

    /**
     * @return the pixel at (x, y) as {@code 0x00RRGGBB} (tests).
     */
    public synchronized int pixel(final int x, final int y)
    {
        return pixels[y * width + x] & 0xFF_FFFF;
    }

    /**
     * A growable int array that {@link #capture} copies pixels into.
     */
    public static final class IntBuffer
    {
        private int[] data = new int[0];

        /**
         * @return an array of at least {@code count} ints (its contents are not kept).
         */
        public int[] ensure(final int count)
        {
            if (data.length < count)
            {
                data = new int[count];
            }
            return data;
        }

        public int[] array()
        {
            return data;
        }
    }

    @Override
    public String toString()
    {
        return "Framebuffer[" + index + ", " + width() + "x" + height() + (enabled() ? "" : ", disabled") + "]";
    }
}
