package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Flyweight over one native {@code struct virgl_renderer_resource_info}, what SET_SCANOUT needs to know of a 3D
 * resource (size, format, stride). {@link VirglRenderer#resourceInfo} fills the renderer's own and returns it.
 * <pre>
 * struct virgl_renderer_resource_info (36 bytes in 0.10.x; 1.0 appends int fd, 40 bytes)
 *  0        4              8       12       16      20      24       28       32           36     40
 *  +--------+--------------+-------+--------+-------+-------+--------+--------+------------+------+
 *  | handle | virgl_format | width | height | depth | flags | tex_id | stride | drm_fourcc | (fd) |
 *  +--------+--------------+-------+--------+-------+-------+--------+--------+------------+------+
 * </pre>
 * 40 bytes are allocated so a 1.x library can write its {@code fd} without overrunning; only the 36-byte 0.10
 * layout is read (the fd is -1 without dma-buf export anyway).
 */
public final class ResourceInfo
{
    /** Bytes allocated: the 1.x size. */
    public static final int SIZE = 40;

    private static final long HANDLE = 0;
    private static final long VIRGL_FORMAT = 4;
    private static final long WIDTH = 8;
    private static final long HEIGHT = 12;
    private static final long DEPTH = 16;
    private static final long FLAGS = 20;
    private static final long TEX_ID = 24;
    private static final long STRIDE = 28;
    private static final long DRM_FOURCC = 32;

    private final MemorySegment segment;

    /**
     * @param arena where the struct lives; it must stay open while the flyweight is used.
     */
    public ResourceInfo(final Arena arena)
    {
        this.segment = arena.allocate(SIZE, 4);
    }

    /**
     * @return the native struct, {@link #SIZE} bytes.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /** Zeroes the struct, so fields a call does not write read as 0. */
    void clear()
    {
        segment.fill((byte)0);
    }

    public int handle()
    {
        return segment.get(JAVA_INT, HANDLE);
    }

    /**
     * @return the virgl format, e.g. {@link ResourceCreateArgs#FORMAT_B8G8R8X8_UNORM}.
     */
    public int virglFormat()
    {
        return segment.get(JAVA_INT, VIRGL_FORMAT);
    }

    public int width()
    {
        return segment.get(JAVA_INT, WIDTH);
    }

    public int height()
    {
        return segment.get(JAVA_INT, HEIGHT);
    }

    public int depth()
    {
        return segment.get(JAVA_INT, DEPTH);
    }

    /**
     * @return the resource flags, e.g. {@link ResourceCreateArgs#FLAG_Y_0_TOP}.
     */
    public int flags()
    {
        return segment.get(JAVA_INT, FLAGS);
    }

    /**
     * @return the GL texture name (only meaningful to a GL or dma-buf consumer).
     */
    public int texId()
    {
        return segment.get(JAVA_INT, TEX_ID);
    }

    /**
     * @return the row stride in bytes that virglrenderer reports (0 when it keeps none).
     */
    public int stride()
    {
        return segment.get(JAVA_INT, STRIDE);
    }

    /**
     * @return the DRM fourcc of the format, or 0.
     */
    public int drmFourcc()
    {
        return segment.get(JAVA_INT, DRM_FOURCC);
    }

    @Override
    public String toString()
    {
        return "handle=" + handle() + ", virgl_format=" + virglFormat() + ", " + width() + "x" + height() + "x"
            + depth() + ", flags=0x" + Integer.toHexString(flags()) + ", tex_id=" + texId() + ", stride=" + stride()
            + ", drm_fourcc=0x" + Integer.toHexString(drmFourcc());
    }
}
