package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * Reads the {@code virtio_gpu_mem_entry}s that follow ATTACH_BACKING and CREATE_BLOB, wherever in the chain they sit,
 * and checks each lies in guest memory (else ERR_UNSPEC, like QEMU's failed {@code dma_memory_map}). Worker only.
 */
final class BackingReader
{
    private static final int ENTRY_CHUNK = 1024;

    private final GuestErrors errors;
    private final MemorySegment entryChunk = MemorySegment.ofArray(new byte[ENTRY_CHUNK * MEM_ENTRY_SIZE]);
    private int error;

    BackingReader(final GuestErrors errors)
    {
        this.errors = errors;
    }

    /**
     * Reads {@code count} entries following the {@code fixed}-byte command of {@code request}.
     *
     * @param inUse entries the renderer's resources hold already (bounded by {@link GpuDevice#MAX_BACKING_ENTRIES}).
     * @return the backing, or null with {@link #error()} the response.
     */
    Backing read(final ControlRequest request, final int fixed, final long count, final long inUse)
    {
        if (0 == count || count > MAX_MEM_ENTRIES)
        {
            error = errors.fail(RESP_ERR_UNSPEC, "nr_entries " + count + " outside 1.." + MAX_MEM_ENTRIES);
            return null;
        }
        if (inUse + count > GpuDevice.MAX_BACKING_ENTRIES)
        {
            error = errors.fail(RESP_ERR_OUT_OF_MEMORY, "more than " + GpuDevice.MAX_BACKING_ENTRIES
                + " backing entries");
            return null;
        }
        if (request.chain.readableBytes() < fixed + count * MEM_ENTRY_SIZE)
        {
            error = errors.fail(RESP_ERR_UNSPEC, count + " entries announced, request has "
                + request.chain.readableBytes() + " bytes");
            return null;
        }
        final int n = (int)count;
        final long[] addresses = new long[n];
        final long[] lengths = new long[n];
        final ChainReader reader = request.chain.reader();
        try
        {
            reader.rewind();
            reader.skip(fixed);
            for (int i = 0; i < n; )
            {
                final int chunk = Math.min(ENTRY_CHUNK, n - i);
                reader.read(entryChunk, 0, (long)chunk * MEM_ENTRY_SIZE);
                for (int k = 0; k < chunk; k++)
                {
                    addresses[i + k] = u64(entryChunk, (long)k * MEM_ENTRY_SIZE + MEM_ENTRY_ADDR);
                    lengths[i + k] = u32(entryChunk, (long)k * MEM_ENTRY_SIZE + MEM_ENTRY_LENGTH);
                }
                i += chunk;
            }
        }
        catch (final ChainAccessException e)
        {
            error = errors.fail(RESP_ERR_UNSPEC, e.getMessage());
            return null;
        }
        for (int i = 0; i < n; i++)
        {
            if (!request.memory.isValidRange(addresses[i], lengths[i]))
            {
                error = errors.fail(RESP_ERR_UNSPEC, "entry " + i + " [0x" + Long.toHexString(addresses[i])
                    + ", +" + lengths[i] + ") is not guest memory");
                return null;
            }
        }
        return new Backing(addresses, lengths);
    }

    /**
     * @return the response of the last {@link #read} that returned null.
     */
    int error()
    {
        return error;
    }
}
