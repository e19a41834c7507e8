package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Flyweight over one native {@code struct virgl_renderer_resource_create_args}: filled field by field and passed
 * to {@link VirglRenderer#resourceCreate}, reused for every resource (no allocation per call).
 * <pre>
 * struct virgl_renderer_resource_create_args (44 bytes, 11 x u32)
 *  0        4        8        12       16       20       24       28          32          36          40      44
 *  +--------+--------+--------+--------+--------+--------+--------+-----------+-----------+-----------+-------+
 *  | handle | target | format | bind   | width  | height | depth  | array_size| last_level| nr_samples| flags |
 *  +--------+--------+--------+--------+--------+--------+--------+-----------+-----------+-----------+-------+
 * </pre>
 * The values are the guest's (virtio-gpu's RESOURCE_CREATE_3D carries the same fields): gallium targets, virgl
 * formats and virgl bind flags. The constants below are the ones a host-side test or a 2D resource needs.
 */
public final class ResourceCreateArgs
{
    /** Size of the struct. */
    public static final int SIZE = 44;

    /** {@code PIPE_BUFFER}. */
    public static final int TARGET_BUFFER = 0;
    /** {@code PIPE_TEXTURE_2D}: what QEMU uses for 2D resources and scanouts. */
    public static final int TARGET_TEXTURE_2D = 2;

    /** {@code VIRGL_FORMAT_B8G8R8A8_UNORM}: bytes B,G,R,A in memory. */
    public static final int FORMAT_B8G8R8A8_UNORM = 1;
    /** {@code VIRGL_FORMAT_B8G8R8X8_UNORM}: bytes B,G,R,X in memory (DRM's XRGB8888, the guest's scanout). */
    public static final int FORMAT_B8G8R8X8_UNORM = 2;
    /** {@code VIRGL_FORMAT_A8R8G8B8_UNORM}. */
    public static final int FORMAT_A8R8G8B8_UNORM = 3;
    /** {@code VIRGL_FORMAT_X8R8G8B8_UNORM}. */
    public static final int FORMAT_X8R8G8B8_UNORM = 4;

    /** Bind flag: depth/stencil attachment. */
    public static final int BIND_DEPTH_STENCIL = 1;
    /** Bind flag: colour render target. */
    public static final int BIND_RENDER_TARGET = 1 << 1;
    /** Bind flag: sampled texture. */
    public static final int BIND_SAMPLER_VIEW = 1 << 3;
    /** Bind flag: vertex buffer. */
    public static final int BIND_VERTEX_BUFFER = 1 << 4;
    /** Bind flag: index buffer. */
    public static final int BIND_INDEX_BUFFER = 1 << 5;
    /** Bind flag: constant buffer. */
    public static final int BIND_CONSTANT_BUFFER = 1 << 6;
    /** Bind flag: cursor image. */
    public static final int BIND_CURSOR = 1 << 16;
    /** Bind flag: shown on a scanout. */
    public static final int BIND_SCANOUT = 1 << 18;

    /** Resource flag: row 0 is the top row for GL consumers (QEMU sets it on 2D resources). */
    public static final int FLAG_Y_0_TOP = 1;

    private static final long HANDLE = 0;
    private static final long TARGET = 4;
    private static final long FORMAT = 8;
    private static final long BIND = 12;
    private static final long WIDTH = 16;
    private static final long HEIGHT = 20;
    private static final long DEPTH = 24;
    private static final long ARRAY_SIZE = 28;
    private static final long LAST_LEVEL = 32;
    private static final long NR_SAMPLES = 36;
    private static final long FLAGS = 40;

    private final MemorySegment segment;

    /**
     * @param arena where the struct lives; it must stay open while the flyweight is used.
     */
    public ResourceCreateArgs(final Arena arena)
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
     * Sets every field, for the common case of a single-level, single-sample resource.
     *
     * @return this.
     */
    public ResourceCreateArgs set2d(final int handle, final int target, final int format, final int bind,
        final int width, final int height)
    {
        return handle(handle).target(target).format(format).bind(bind).width(width).height(height).depth(1)
            .arraySize(1).lastLevel(0).nrSamples(0).flags(0);
    }

    public ResourceCreateArgs handle(final int value)
    {
        segment.set(JAVA_INT, HANDLE, value);
        return this;
    }

    public int handle()
    {
        return segment.get(JAVA_INT, HANDLE);
    }

    public ResourceCreateArgs target(final int value)
    {
        segment.set(JAVA_INT, TARGET, value);
        return this;
    }

    public int target()
    {
        return segment.get(JAVA_INT, TARGET);
    }

    public ResourceCreateArgs format(final int value)
    {
        segment.set(JAVA_INT, FORMAT, value);
        return this;
    }

    public int format()
    {
        return segment.get(JAVA_INT, FORMAT);
    }

    public ResourceCreateArgs bind(final int value)
    {
        segment.set(JAVA_INT, BIND, value);
        return this;
    }

    public int bind()
    {
        return segment.get(JAVA_INT, BIND);
    }

    public ResourceCreateArgs width(final int value)
    {
        segment.set(JAVA_INT, WIDTH, value);
        return this;
    }

    public int width()
    {
        return segment.get(JAVA_INT, WIDTH);
    }

    public ResourceCreateArgs height(final int value)
    {
        segment.set(JAVA_INT, HEIGHT, value);
        return this;
    }

    public int height()
    {
        return segment.get(JAVA_INT, HEIGHT);
    }

    public ResourceCreateArgs depth(final int value)
    {
        segment.set(JAVA_INT, DEPTH, value);
        return this;
    }

    public int depth()
    {
        return segment.get(JAVA_INT, DEPTH);
    }

    public ResourceCreateArgs arraySize(final int value)
    {
        segment.set(JAVA_INT, ARRAY_SIZE, value);
        return this;
    }

    public int arraySize()
    {
        return segment.get(JAVA_INT, ARRAY_SIZE);
    }

    public ResourceCreateArgs lastLevel(final int value)
    {
        segment.set(JAVA_INT, LAST_LEVEL, value);
        return this;
    }

    public int lastLevel()
    {
        return segment.get(JAVA_INT, LAST_LEVEL);
    }

    public ResourceCreateArgs nrSamples(final int value)
    {
        segment.set(JAVA_INT, NR_SAMPLES, value);
        return this;
    }

    public int nrSamples()
    {
        return segment.get(JAVA_INT, NR_SAMPLES);
    }

    public ResourceCreateArgs flags(final int value)
    {
        segment.set(JAVA_INT, FLAGS, value);
        return this;
    }

    public int flags()
    {
        return segment.get(JAVA_INT, FLAGS);
    }

    @Override
    public String toString()
    {
        return "handle=" + handle() + ", target=" + target() + ", format=" + format() + ", bind=0x"
            + Integer.toHexString(bind()) + ", " + width() + "x" + height() + "x" + depth() + ", array_size="
            + arraySize() + ", last_level=" + lastLevel() + ", nr_samples=" + nrSamples() + ", flags=0x"
            + Integer.toHexString(flags());
    }
}
