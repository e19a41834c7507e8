package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A guest-created resource: either a 2D image held here (off-heap, in its own arena so that RESOURCE_UNREF returns
 * the memory at once), or a guest-memory blob read straight from its backing. Guarded by the device lock.
 */
final class Resource
{
    final int id;
    /** Pixel format of a 2D resource; null for a blob (the format comes with SET_SCANOUT_BLOB). */
    final PixelFormat format;
    final int width;
    final int height;
    /** Bytes per row of the host image (width * 4). */
    final int stride;
    /** Bytes counted against maxHostMem. */
    final long hostBytes;
    /** Size a blob was created with (0 for 2D). */
    final long blobSize;
    private final Arena arena;
    /** The host image of a 2D resource; null for a blob. */
    final MemorySegment image;

    Backing backing;
    /** Bit i set: scanout i shows this resource. */
    int scanoutMask;
    boolean hasUuid;
    long uuidMostSignificant;
    long uuidLeastSignificant;

    private Resource(final int id, final PixelFormat format, final int width, final int height, final long blobSize,
        final Arena arena, final MemorySegment image)
    {
        this.id = id;
        this.format = format;
        this.width = width;
        this.height = height;
        this.stride = width * PixelFormat.BYTES_PER_PIXEL;
        this.hostBytes = null == image ? 0 : image.byteSize();
        this.blobSize = blobSize;
        this.arena = arena;
        this.image = image;
    }

    /**
     * Allocates the host image (zeroed).
     *
     * @throws OutOfMemoryError when the allocation fails (the caller answers ERR_OUT_OF_MEMORY).
     */
    static Resource create2d(final int id, final PixelFormat format, final int width, final int height)
    {
        final Arena arena = Arena.ofShared();
        try
        {
            final MemorySegment image = arena.allocate((long)width * PixelFormat.BYTES_PER_PIXEL * height, 64);
            return new Resource(id, format, width, height, 0, arena, image);
        }
        catch (final RuntimeException | OutOfMemoryError e)
        {
            arena.close();
            throw e;
        }
    }

    static Resource createBlob(final int id, final long size, final Backing backing)
    {
        final Resource r = new Resource(id, null, 0, 0, size, null, null);
        r.backing = backing;
        return r;
    }

    boolean isBlob()
    {
        return null == image;
    }

    /**
     * Frees the host image. The resource must not be used afterwards.
     */
    void free()
    {
        backing = null;
        if (null != arena)
        {
            arena.close();
        }
    }

    @Override
    public String toString()
    {
        return isBlob() ? "blob resource " + id + " (" + blobSize + " bytes)"
            : "resource " + id + " (" + width + "x" + height + " " + format + ")";
    }
}
