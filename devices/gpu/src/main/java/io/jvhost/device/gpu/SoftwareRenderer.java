package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.jvhost.device.MemoryBudget;
import io.jvhost.memory.GuestMemory;

import static io.jvhost.device.gpu.GpuDevice.MAX_DIMENSION;
import static io.jvhost.device.gpu.GpuDevice.MAX_RESOURCES;
import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The 2D renderer: images in host memory (libc's heap, see {@link Resource}) counted against the device's
 * {@link MemoryBudget}, guest blobs read in place, pixels copied with {@link MemorySegment#copy}.
 * <p>
 * <b>Data path.</b> TRANSFER_TO_HOST_2D and RESOURCE_FLUSH allocate nothing: resources are found in an int-keyed
 * table, backing pages are resolved to host spans once per attach and memory snapshot ({@link Backing}), rows are
 * copied with one {@link MemorySegment#copy} each (one for a full-width rectangle over contiguous backing), and the
 * display gets the host image itself, not a copy.
 */
final class SoftwareRenderer implements Renderer
{
    private static final int CURSOR_BYTES = CURSOR_SIZE * CURSOR_SIZE * PixelFormat.BYTES_PER_PIXEL;
    private static final int CURSOR_STRIDE = CURSOR_SIZE * PixelFormat.BYTES_PER_PIXEL;
    /** Rows of a blob scanout that are not contiguous in this process are gathered here, chunk by chunk. */
    private static final long STAGING_BYTES = 4L << 20;

    private final MemoryBudget budget;
    private final GuestErrors errors;
    private final ResourceTable resources = new ResourceTable();
    private long hostMem;
    private long backingEntries;
    private MemorySegment staging;

    SoftwareRenderer(final MemoryBudget budget, final GuestErrors errors)
    {
        this.budget = budget;
        this.errors = errors;
    }

    @Override
    public Resource resource(final int resourceId)
    {
        return resources.get(resourceId);
    }

    @Override
    public int resourceCount()
    {
        return resources.size();
    }

    @Override
    public long hostMemoryUsed()
    {
        return hostMem;
    }

    /**
     * Id 0 or taken → INVALID_RESOURCE_ID; unknown format, empty or oversized → INVALID_PARAMETER; over the memory
     * budget (or too many resources) → OUT_OF_MEMORY.
     */
    @Override
    public int createResource2d(final int resourceId, final int formatValue, final long width, final long height)
    {
        if (0 == resourceId)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
        }
        if (null != resources.get(resourceId))
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + GuestErrors.id(resourceId)
                + " already exists");
        }
        final PixelFormat format = PixelFormat.of(formatValue);
        if (null == format)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "unknown format "
                + Integer.toUnsignedString(formatValue));
        }
        if (0 == width || 0 == height || width > MAX_DIMENSION || height > MAX_DIMENSION)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "size " + width + "x" + height + " outside 1.."
                + MAX_DIMENSION);
        }
        if (resources.size() >= MAX_RESOURCES)
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_RESOURCES + " resources");
        }
        final long bytes = width * PixelFormat.BYTES_PER_PIXEL * height;
        if (!budget.tryReserve(bytes))
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, width + "x" + height + " needs " + bytes + " bytes, but "
                + budget.used() + " of the " + budget.limit() + "-byte host memory budget are in use (" + hostMem
                + " by resources)");
        }
        final Resource resource;
        try
        {
            resource = Resource.create2d(resourceId, format, (int)width, (int)height);
        }
        catch (final OutOfMemoryError e)
        {
            budget.release(bytes);
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "allocating " + bytes + " bytes failed: " + e.getMessage());
        }
        resources.put(resource);
        hostMem += resource.hostBytes;
        return Command.Handler.OK;
    }

    /**
     * Guest memory only (BLOB_MEM_GUEST; others → INVALID_PARAMETER), the entries are the backing, each inside
     * guest RAM, and must cover {@code size} (Linux's add up to it exactly: whole pages). Entries may alias the same
     * guest pages: no host copy is kept (the blob is read in place), so a blob costs no host memory whatever its
     * size, and a size larger than the guest's RAM is no threat; what costs is a scanout showing it, whose copies
     * the displays reserve at SET_SCANOUT_BLOB (capped at {@link GpuDevice#MAX_SCANOUT_DIMENSION} a side).
     */
    @Override
    public int createBlob(final ControlRequest request, final BackingReader entries, final int resourceId,
        final int blobMem, final long size, final long count)
    {
        if (blobMem != BLOB_MEM_GUEST)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "blob_mem " + Integer.toUnsignedString(blobMem)
                + " (only BLOB_MEM_GUEST without 3D)");
        }
        if (0 == resourceId)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
        }
        if (null != resources.get(resourceId))
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, "resource " + GuestErrors.id(resourceId)
                + " already exists");
        }
        if (size <= 0)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "blob size " + Long.toUnsignedString(size));
        }
        if (resources.size() >= MAX_RESOURCES)
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, "already " + MAX_RESOURCES + " resources");
        }
        final Backing backing = entries.read(request, CREATE_BLOB_SIZE, count, backingEntries);
        if (null == backing)
        {
            return entries.error();
        }
        if (backing.size() < size)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "blob size " + size + " but the entries hold "
                + backing.size() + " bytes");
        }
        resources.put(Resource.createBlob(resourceId, size, backing));
        backingEntries += backing.entries();
        return Command.Handler.OK;
    }

    @Override
    public void unref(final Resource resource)
    {
        resources.remove(resource.id);
        hostMem -= resource.hostBytes;
        budget.release(resource.hostBytes);
        if (null != resource.backing)
        {
            backingEntries -= resource.backing.entries();
        }
        resource.free();
    }

    /**
     * nr_entries 1..16384 entries, each inside guest memory (else ERR_UNSPEC, like QEMU); a resource that already
     * has backing → ERR_UNSPEC.
     */
    @Override
    public int attachBacking(final ControlRequest request, final BackingReader entries, final int resourceId,
        final long count)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (null != resource.backing)
        {
            return errors.fail(RESP_ERR_UNSPEC, resource + " already has backing");
        }
        final Backing backing = entries.read(request, ATTACH_SIZE, count, backingEntries);
        if (null == backing)
        {
            return entries.error();
        }
        resource.backing = backing;
        backingEntries += backing.entries();
        return Command.Handler.OK;
    }

    /**
     * No resource or no backing → INVALID_RESOURCE_ID (QEMU); a blob cannot lose its memory → INVALID_PARAMETER.
     * The host image stays.
     */
    @Override
    public int detachBacking(final int resourceId)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (resource.isBlob())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, resource + " is its backing");
        }
        if (null == resource.backing)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        backingEntries -= resource.backing.entries();
        resource.backing = null;
        return Command.Handler.OK;
    }

    /**
     * QEMU semantics: row h of the rectangle comes from backing offset {@code offset + stride*h} (stride = the
     * resource's width * 4) and goes to its place in the image. No backing → INVALID_RESOURCE_ID (as QEMU);
     * rectangle outside the resource or reading past the backing → INVALID_PARAMETER. A guest blob needs no transfer
     * (the host reads it in place): OK, as QEMU.
     */
    @Override
    public int transferToHost2d(final int resourceId, final long x, final long y, final long width,
        final long height, final long offset, final GuestMemory memory)
    {
        final Resource resource = resources.get(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (resource.isBlob())
        {
            return Command.Handler.OK;
        }
        final Backing backing = resource.backing;
        if (null == backing)
        {
            return errors.fail(RESP_ERR_INVALID_RESOURCE_ID, resource + " has no backing");
        }
        if (x + width > resource.width || y + height > resource.height)
        {
            return errors.rectOutside(x, y, width, height, resource);
        }
        if (0 == width || 0 == height)
        {
            return Command.Handler.OK;
        }
        final long stride = resource.stride;
        final long rowBytes = width * PixelFormat.BYTES_PER_PIXEL;
        // offset is checked first (it is a u64: negative here means >= 2^63); the rest is bounded by the image size.
        if (offset < 0 || offset > backing.size()
            || (height - 1) * stride + rowBytes > backing.size() - offset)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "rect " + x + "," + y + " " + width + "x" + height
                + " at offset " + Long.toUnsignedString(offset) + " reads past the " + backing.size()
                + "-byte backing of " + resource);
        }
        if (!backing.resolve(memory))
        {
            return errors.fail(RESP_ERR_UNSPEC, "the backing of " + resource + " is no longer guest memory");
        }
        final long dst = y * stride + x * PixelFormat.BYTES_PER_PIXEL;
        if (rowBytes == stride)
        {
            // Full-width rows are contiguous on both sides: one copy per backing span.
            backing.copyTo(offset, resource.image, dst, height * stride);
        }
        else
        {
            for (long row = 0; row < height; row++)
            {
                backing.copyTo(offset + row * stride, resource.image, dst + row * stride, rowBytes);
            }
        }
        return Command.Handler.OK;
    }

    /**
     * A 2D resource: its image, in place. A blob: the guest's pixels in place when the rectangle is contiguous here,
     * else rows gathered into the staging buffer, a chunk of rows per update.
     */
    @Override
    public void present(final Scanout s, final long left, final long top, final int w, final int h, final int ux,
        final int uy, final GuestMemory memory, final DisplayOutputs out)
    {
        final Resource resource = s.resource;
        if (!resource.isBlob())
        {
            out.updateScanout(s.index, ux, uy, w, h, resource.image,
                top * resource.stride + left * PixelFormat.BYTES_PER_PIXEL, resource.stride, resource.format);
            return;
        }
        final Backing backing = resource.backing;
        if (!backing.resolve(memory))
        {
            if (errors.allow())
            {
                errors.warn("blob resource " + GuestErrors.id(resource.id) + " is no longer in guest memory;"
                    + " scanout " + s.index + " not updated");
            }
            return;
        }
        final long start = s.offset + top * s.stride + left * PixelFormat.BYTES_PER_PIXEL;
        final long rowBytes = (long)w * PixelFormat.BYTES_PER_PIXEL;
        final int span = backing.spanHolding(start, (h - 1L) * s.stride + rowBytes);
        if (span >= 0)
        {
            out.updateScanout(s.index, ux, uy, w, h, backing.spanBytes(span), backing.hostOffset(span, start),
                s.stride, s.format);
            return;
        }
        final MemorySegment buffer = staging();
        final int rowsPerChunk = (int)Math.max(1, buffer.byteSize() / rowBytes);
        for (int row = 0; row < h; )
        {
            final int rows = Math.min(rowsPerChunk, h - row);
            for (int k = 0; k < rows; k++)
            {
                backing.copyTo(start + (long)(row + k) * s.stride, buffer, k * rowBytes, rowBytes);
            }
            if (!out.updateScanout(s.index, ux, uy + row, w, rows, buffer, 0, (int)rowBytes, s.format))
            {
                return;
            }
            row += rows;
        }
    }

    private MemorySegment staging()
    {
        if (null == staging)
        {
            staging = Arena.ofAuto().allocate(STAGING_BYTES, 64);
        }
        return staging;
    }

    /**
     * A 64x64 2D resource converted to B,G,R,A; a blob cursor is read from guest memory as B8G8R8A8 (Linux's cursor
     * format), like QEMU.
     */
    @Override
    public int loadCursor(final Resource resource, final GuestMemory memory, final MemorySegment image)
    {
        if (resource.isBlob())
        {
            if (resource.blobSize < CURSOR_BYTES || !resource.backing.resolve(memory))
            {
                return CURSOR_BAD_BLOB;
            }
            resource.backing.copyTo(0, image, 0, CURSOR_BYTES);
            return CURSOR_LOADED;
        }
        if (resource.width != CURSOR_SIZE || resource.height != CURSOR_SIZE)
        {
            return CURSOR_NOT_64;
        }
        for (int row = 0; row < CURSOR_SIZE; row++)
        {
            resource.format.toBgra(resource.image, (long)row * resource.stride, image, (long)row * CURSOR_STRIDE,
                CURSOR_SIZE);
        }
        return CURSOR_LOADED;
    }

    @Override
    public void reset()
    {
        resources.drain(Resource::free);
        budget.release(hostMem);
        hostMem = 0;
        backingEntries = 0;
    }
}
