package io.jvhost.display.rfb;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The guest's cursor as one scanout's viewers see it: a {@value #SIZE}×{@value #SIZE} image with a hotspot, shown or
 * hidden. The GPU worker writes it ({@link #define}, {@link #show}), each viewer's writer copies it ({@link #copyTo});
 * both hold this object's monitor only for a 16 KiB copy, so the worker never waits for a viewer. After the first
 * definition nothing here allocates.
 */
public final class Cursor
{
    /** Width and height of a virtio-gpu cursor. */
    public static final int SIZE = 64;
    public static final int PIXELS = SIZE * SIZE;
    /** Bytes of a cursor image: B,G,R,A per pixel. */
    public static final long BYTES = 4L * PIXELS;
    /** B,G,R,A in memory read as one little-endian int is {@code 0xAARRGGBB}. */
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** {@code 0xAARRGGBB} per pixel, row by row; null until the first definition. */
    private int[] argb;
    private int hotX;
    private int hotY;
    private boolean visible;

    /**
     * Copies a new image (B,G,R,A bytes, rows of {@value #SIZE} pixels) and shows it. The hotspot is clamped into the
     * image.
     *
     * @throws IllegalArgumentException when {@code image} is shorter than {@link #BYTES}.
     */
    public synchronized void define(final int hotspotX, final int hotspotY, final MemorySegment image)
    {
        if (image.byteSize() < BYTES)
        {
            throw new IllegalArgumentException("a cursor image has " + BYTES + " bytes, got " + image.byteSize());
        }
        if (null == argb)
        {
            argb = new int[PIXELS];
        }
        MemorySegment.copy(image, PIXEL, 0, argb, 0, PIXELS);
        hotX = clamp(hotspotX);
        hotY = clamp(hotspotY);
        visible = true;
    }

    /**
     * Shows or hides the cursor; a cursor never defined stays hidden.
     *
     * @return whether viewers must be told (the visibility changed).
     */
    public synchronized boolean show(final boolean show)
    {
        final boolean now = show && null != argb;
        if (now == visible)
        {
            return false;
        }
        visible = now;
        return true;
    }

    /**
     * Takes the image and hotspot of {@code other} (the guest's one cursor moved to this scanout); visibility is
     * left to {@link #show}.
     *
     * @return false when {@code other} has no image (nothing changed).
     */
    public boolean copyImageFrom(final Cursor other)
    {
        // Two monitors at once, but only the GPU worker ever holds two (viewers' writers take one), so no deadlock.
        synchronized (this)
        {
            synchronized (other)
            {
                if (null == other.argb)
                {
                    return false;
                }
                if (null == argb)
                {
                    argb = new int[PIXELS];
                }
                System.arraycopy(other.argb, 0, argb, 0, PIXELS);
                hotX = other.hotX;
                hotY = other.hotY;
            }
        }
        return true;
    }

    /**
     * @return whether the guest ever defined a cursor here.
     */
    public synchronized boolean defined()
    {
        return null != argb;
    }

    public synchronized boolean visible()
    {
        return visible;
    }

    /**
     * Copies the image ({@code 0xAARRGGBB}) into {@code dst} and the hotspot into {@code hotspot[0..1]} when the cursor
     * is shown.
     *
     * @return whether it is shown (else nothing was copied).
     */
    public synchronized boolean copyTo(final int[] dst, final int[] hotspot)
    {
        if (!visible)
        {
            return false;
        }
        System.arraycopy(argb, 0, dst, 0, PIXELS);
        hotspot[0] = hotX;
        hotspot[1] = hotY;
        return true;
    }

    private static int clamp(final int v)
    {
        return Math.max(0, Math.min(SIZE - 1, v));
    }

    @Override
    public synchronized String toString()
    {
        return "Cursor[" + (null == argb ? "undefined" : "hotspot " + hotX + "," + hotY) + (visible ? ", shown" : "")
            + "]";
    }
}
