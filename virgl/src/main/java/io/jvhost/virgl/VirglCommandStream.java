package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Writes virgl command streams (what a guest's Mesa sends in SUBMIT_3D) into native memory, for tests,
 * benchmarks and the in-process front-end: enough to bind a render target and clear it. The layouts follow
 * virglrenderer's {@code virgl_protocol.h}.
 * <p>
 * Every command is a header dword followed by its payload:
 * <pre>
 *  31              16 15           8 7            0
 *  +-----------------+--------------+--------------+
 *  | payload dwords  | object type  | command      |
 *  +-----------------+--------------+--------------+
 * </pre>
 * The buffer is reused: {@link #reset()} starts a new stream in the same memory.
 */
public final class VirglCommandStream
{
    /** Does nothing. */
    public static final int CMD_NOP = 0;
    /** Creates an object (its type in the header): payload = handle, then the object's fields. */
    public static final int CMD_CREATE_OBJECT = 1;
    /** Binds an object. */
    public static final int CMD_BIND_OBJECT = 2;
    /** Destroys an object. */
    public static final int CMD_DESTROY_OBJECT = 3;
    /** Sets the colour and depth/stencil attachments. */
    public static final int CMD_SET_FRAMEBUFFER_STATE = 5;
    /** Clears attachments of the framebuffer. */
    public static final int CMD_CLEAR = 7;

    /** Object type of a surface: a view of one level and layer range of a resource, to render into. */
    public static final int OBJECT_SURFACE = 8;

    /** {@code PIPE_CLEAR_DEPTH}. */
    public static final int CLEAR_DEPTH = 1;
    /** {@code PIPE_CLEAR_STENCIL}. */
    public static final int CLEAR_STENCIL = 1 << 1;
    /** {@code PIPE_CLEAR_COLOR0}: the first colour buffer (the next ones are the bits above). */
    public static final int CLEAR_COLOR0 = 1 << 2;

    private static final int SURFACE_PAYLOAD = 5;
    private static final int CLEAR_PAYLOAD = 8;

    private final MemorySegment segment;
    private final int capacity;
    private int dwords;

    /**
     * @param arena    where the stream lives; it must stay open while the stream is used.
     * @param capacity how many dwords it can hold.
     */
    public VirglCommandStream(final Arena arena, final int capacity)
    {
        this.segment = arena.allocate((long)capacity * Integer.BYTES, Integer.BYTES);
        this.capacity = capacity;
    }

    /**
     * @return a command header dword.
     */
    public static int header(final int command, final int objectType, final int payloadDwords)
    {
        return (command & 0xff) | (objectType & 0xff) << 8 | payloadDwords << 16;
    }

    /**
     * @return the stream's memory (all of the capacity; {@link #dwords()} of it written).
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * @return how many dwords have been written.
     */
    public int dwords()
    {
        return dwords;
    }

    /**
     * @return the stream's capacity in dwords.
     */
    public int capacity()
    {
        return capacity;
    }

    /**
     * Starts a new stream in the same memory.
     *
     * @return this.
     */
    public VirglCommandStream reset()
    {
        dwords = 0;
        return this;
    }

    /**
     * Appends one dword as is (a malformed stream is built this way).
     *
     * @return this.
     * @throws IndexOutOfBoundsException when the stream is full.
     */
    public VirglCommandStream dword(final int value)
    {
        segment.set(JAVA_INT, (long)dwords * Integer.BYTES, value);
        dwords++;
        return this;
    }

    /**
     * {@code CREATE_OBJECT(SURFACE)}: a surface {@code handle} on level {@code level}, layers
     * {@code firstLayer..lastLayer}, of a texture resource.
     * <pre>
     *  header | handle | resource | format | level | first_layer (bits 0-15), last_layer (bits 16-31)
     * </pre>
     *
     * @return this.
     */
    public VirglCommandStream createSurface(final int handle, final int resourceId, final int format, final int level,
        final int firstLayer, final int lastLayer)
    {
        return dword(header(CMD_CREATE_OBJECT, OBJECT_SURFACE, SURFACE_PAYLOAD)).dword(handle).dword(resourceId)
            .dword(format).dword(level).dword((firstLayer & 0xffff) | lastLayer << 16);
    }

    /**
     * {@code SET_FRAMEBUFFER_STATE} with one colour buffer.
     * <pre>
     *  header | number of colour buffers (1) | depth/stencil surface (0: none) | colour surface 0
     * </pre>
     *
     * @return this.
     */
    public VirglCommandStream setFramebufferState(final int colorSurface, final int depthStencilSurface)
    {
        return dword(header(CMD_SET_FRAMEBUFFER_STATE, 0, 3)).dword(1).dword(depthStencilSurface).dword(colorSurface);
    }

    /**
     * {@code CLEAR} of the bound framebuffer.
     * <pre>
     *  header | buffers (CLEAR_*) | red | green | blue | alpha (floats) | depth (double, low dword first) | stencil
     * </pre>
     *
     * @return this.
     */
    public VirglCommandStream clear(final int buffers, final float red, final float green, final float blue,
        final float alpha, final double depth, final int stencil)
    {
        final long depthBits = Double.doubleToRawLongBits(depth);
        return dword(header(CMD_CLEAR, 0, CLEAR_PAYLOAD)).dword(buffers).dword(Float.floatToRawIntBits(red))
            .dword(Float.floatToRawIntBits(green)).dword(Float.floatToRawIntBits(blue))
            .dword(Float.floatToRawIntBits(alpha)).dword((int)depthBits).dword((int)(depthBits >>> 32)).dword(stencil);
    }

    /**
     * The smallest stream that paints a render target one colour: a surface on the resource, the framebuffer
     * bound to it, a colour clear (19 dwords).
     *
     * @return this.
     */
    public VirglCommandStream clearResource(final int surfaceHandle, final int resourceId, final int format,
        final float red, final float green, final float blue, final float alpha)
    {
        return createSurface(surfaceHandle, resourceId, format, 0, 0, 0).setFramebufferState(surfaceHandle, 0)
            .clear(CLEAR_COLOR0, red, green, blue, alpha, 1.0, 0);
    }
}
