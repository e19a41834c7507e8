package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Flyweight over one native {@code struct virgl_box}, the region of a transfer; reused for every transfer (no
 * allocation per call).
 * <pre>
 * struct virgl_box (24 bytes, 6 x u32)
 *  0     4     8     12    16    20    24
 *  +-----+-----+-----+-----+-----+-----+
 *  | x   | y   | z   | w   | h   | d   |
 *  +-----+-----+-----+-----+-----+-----+
 * </pre>
 * {@code y = 0} is memory row 0 of the resource whatever its {@code Y_0_TOP} flag says (measured), so a readback
 * for display needs no flip.
 */
public final class Box
{
    /** Size of the struct. */
    public static final int SIZE = 24;

    private static final long X = 0;
    private static final long Y = 4;
    private static final long Z = 8;
    private static final long W = 12;
    private static final long H = 16;
    private static final long D = 20;

    private final MemorySegment segment;

    /**
     * @param arena where the struct lives; it must stay open while the flyweight is used.
     */
    public Box(final Arena arena)
    {
        this.segment = arena.allocate(SIZE, 4);
    }

    /**
     * @return the native struct, exactly {@link #SIZE} bytes.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * Sets a 2D rectangle (z 0, depth 1).
     *
     * @return this.
     */
    public Box set(final int x, final int y, final int width, final int height)
    {
        return set(x, y, 0, width, height, 1);
    }

    /**
     * Sets every field.
     *
     * @return this.
     */
    public Box set(final int x, final int y, final int z, final int width, final int height, final int depth)
    {
        segment.set(JAVA_INT, X, x);
        segment.set(JAVA_INT, Y, y);
        segment.set(JAVA_INT, Z, z);
        segment.set(JAVA_INT, W, width);
        segment.set(JAVA_INT, H, height);
        segment.set(JAVA_INT, D, depth);
        return this;
    }

    public int x()
    {
        return segment.get(JAVA_INT, X);
    }

    public int y()
    {
        return segment.get(JAVA_INT, Y);
    }

    public int z()
    {
        return segment.get(JAVA_INT, Z);
    }

    public int width()
    {
        return segment.get(JAVA_INT, W);
    }

    public int height()
    {
        return segment.get(JAVA_INT, H);
    }

    public int depth()
    {
        return segment.get(JAVA_INT, D);
    }

    @Override
    public String toString()
    {
        return "box=" + x() + "," + y() + "," + z() + " " + width() + "x" + height() + "x" + depth();
    }
}
