package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

import io.jvhost.os.NativeHeap;

/**
 * A guest-created resource: either a 2D image held here, or a guest-memory blob read straight from its backing.
 * Guarded by the device lock.
 * <p>
 * <b>Where images live.</b> A 2D image is a block of libc's heap ({@link NativeHeap#calloc}), freed with {@code free}
 * by RESOURCE_UNREF or a reset. An arena per image made every free a JVM-wide handshake (30–280 µs), so a reset with
 * 65,536 resources held the device lock for seconds; heap arrays would leave freed images to the garbage collector
 * (resident long after RESOURCE_UNREF, and copied around); one arena carved by our own allocator would be a second
 * malloc with its fragmentation. libc's blocks come and go in nanoseconds to microseconds, large ones as fresh zero
 * pages returned to the system on free.
 * <p>
 * Their segments have the global scope, so freeing must never race a reader, and nothing may read a freed image.
 * Both hold because every access happens under the device lock, which {@link #free} runs under too: transfers
 * (TRANSFER_TO_HOST_2D), cursor loading (UPDATE_CURSOR) and presenting (RESOURCE_FLUSH, SET_SCANOUT, announcing to a
 * new display) run on the worker in {@code processQueue}; a reset runs {@code freeAll} on the protocol thread under
 * the same lock. Displays get the image only for the duration of
 * {@link GpuDisplay#updateScanout}, whose contract is to copy what they need before returning (QEMU's display
 * converts into its shadow, jvhost's into its framebuffer, both synchronously). A resource leaves the table and every
 * scanout (RESOURCE_UNREF disables the scanouts showing it first; a reset clears them all) before its image is
 * freed, and {@link #free} drops the reference, so a bug would fail on null rather than read freed memory.
 */
final class Resource
{
    final int id;
    /**
     * Pixel format of a 2D resource; null for a blob (the format comes with SET_SCANOUT_BLOB), and for a 3D
     * resource whose format no display shows.
     */
    final PixelFormat format;
    /** A resource held by virglrenderer (3D mode): its pixels are read back from there. */
    final boolean virgl;
    /** 3D: the guest memory snapshot the backing's iovecs were given to virglrenderer for; null when none. */
    Object virglIovFor;
    /** No contexts: shared, so that a 2D resource costs no array (grown on the first attach). */
    private static final int[] NO_CONTEXTS = {};
    /** 3D: the contexts it is attached to (the first {@link #contextCount}), scanned without allocating. */
    private int[] contexts = NO_CONTEXTS;
    private int contextCount;
    final int width;
    final int height;
    /** Bytes per row of the host image (width * 4). */
    final int stride;
    /** Bytes counted against maxHostMem. */
    final long hostBytes;
    /** Size a blob was created with (0 for 2D). */
    final long blobSize;
    /** The host image of a 2D resource; null for a blob, and once freed. */
    MemorySegment image;

    Backing backing;
    /** Bit i set: scanout i shows this resource. */
    int scanoutMask;
    boolean hasUuid;
    long uuidMostSignificant;
    long uuidLeastSignificant;

    private Resource(final int id, final PixelFormat format, final int width, final int height, final long blobSize,
        final MemorySegment image)
    {
        this(id, format, width, height, blobSize, image, false, null == image ? 0 : image.byteSize());
    }

    private Resource(final int id, final PixelFormat format, final int width, final int height, final long blobSize,
        final MemorySegment image, final boolean virgl, final long hostBytes)
    {
        this.id = id;
        this.format = format;
        this.width = width;
        this.height = height;
        this.stride = width * PixelFormat.BYTES_PER_PIXEL;
        this.virgl = virgl;
        this.hostBytes = hostBytes;
        this.blobSize = blobSize;
        this.image = image;
    }

    /**
     * Allocates the host image (zeroed).
     *
     * @throws OutOfMemoryError when the allocation fails (the caller answers ERR_OUT_OF_MEMORY).
     */
    static Resource create2d(final int id, final PixelFormat format, final int width, final int height)
    {
        final MemorySegment image = NativeHeap.calloc((long)width * PixelFormat.BYTES_PER_PIXEL * height);
        return new Resource(id, format, width, height, 0, image);
    }

    static Resource createBlob(final int id, final long size, final Backing backing)
    {
        final Resource r = new Resource(id, null, 0, 0, size, null);
        r.backing = backing;
        return r;
    }

    /**
     * A resource virglrenderer holds; {@code hostBytes} is the estimate counted against the budget.
     */
    static Resource createVirgl(final int id, final PixelFormat format, final int width, final int height,
        final long hostBytes)
    {
        return new Resource(id, format, width, height, 0, null, true, hostBytes);
    }

    /**
     * @return true when attached to 3D context {@code ctxId}.
     */
    boolean inContext(final int ctxId)
    {
        for (int i = 0; i < contextCount; i++)
        {
            if (contexts[i] == ctxId)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Attaches it to 3D context {@code ctxId} (again: no change).
     */
    void addContext(final int ctxId)
    {
        if (inContext(ctxId))
        {
            return;
        }
        if (contextCount == contexts.length)
        {
            contexts = java.util.Arrays.copyOf(contexts, Math.max(2, contextCount * 2));
        }
        contexts[contextCount++] = ctxId;
    }

    /**
     * Detaches it from 3D context {@code ctxId}, if attached.
     */
    void removeContext(final int ctxId)
    {
        for (int i = 0; i < contextCount; i++)
        {
            if (contexts[i] == ctxId)
            {
                contexts[i] = contexts[--contextCount];
                return;
            }
        }
    }

    boolean isBlob()
    {
        return null == format && !virgl;
    }

    /**
     * Frees the host image, under the device lock, once the resource is in no table and on no scanout. The resource
     * must not be used afterwards.
     */
    void free()
    {
        backing = null;
        final MemorySegment freed = image;
        image = null;
        if (null != freed)
        {
            NativeHeap.free(freed);
        }
    }

    @Override
    public String toString()
    {
        if (virgl)
        {
            return "3D resource " + id + " (" + width + "x" + height + (null == format ? "" : " " + format) + ")";
        }
        return isBlob() ? "blob resource " + id + " (" + blobSize + " bytes)"
            : "resource " + id + " (" + width + "x" + height + " " + format + ")";
    }
}
