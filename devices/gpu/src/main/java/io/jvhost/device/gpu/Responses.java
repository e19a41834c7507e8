package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;

import io.jvhost.device.DeviceQueue;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.DescriptorChain;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * Writes control-queue responses: the header (echoing a fenced request's fence) and the payload a handler left in
 * {@link #buffer}, into the chain's writable part. Worker only.
 */
final class Responses implements HeldRequests.Responder
{
    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());

    /** The response being built: header, then the payload of the largest response (EDID). */
    final MemorySegment buffer = MemorySegment.ofArray(new byte[Math.max(EDID_RESP_SIZE,
        HDR_SIZE + VirglRendererAdapter.MAX_CAPSET_BYTES)]);
    /** The payload of OK_CAPSET, set by the command that filled it. */
    int capsetPayload;
    /** capset_id, capset_max_version, capset_max_size, padding. */
    static final int CAPSET_INFO_PAYLOAD = 16;

    private final String name;
    private final GuestErrors errors;
    private long shortResponseBuffers;

    Responses(final String name, final GuestErrors errors)
    {
        this.name = name;
        this.errors = errors;
    }

    private int payloadLength(final int type)
    {
        return switch (type)
        {
            case RESP_OK_CAPSET_INFO -> CAPSET_INFO_PAYLOAD;
            case RESP_OK_CAPSET -> capsetPayload;
            case RESP_OK_DISPLAY_INFO -> DISPLAY_INFO_SIZE - HDR_SIZE;
            case RESP_OK_EDID -> EDID_RESP_SIZE - HDR_SIZE;
            case RESP_OK_RESOURCE_UUID -> UUID_RESP_SIZE - HDR_SIZE;
            default -> 0;
        };
    }

    /**
     * Writes the header (plus the payload already in {@link #buffer}) into the chain's writable part and returns
     * the chain. A fenced request gets FLAG_FENCE with its fence_id and ctx_id back (and ring_idx with
     * INFO_RING_IDX). A response buffer too small for the whole response gets nothing (QEMU would write the part
     * that fits; a truncated response is of no use to a driver, and 0 bytes makes the mistake obvious).
     */
    @Override
    public void respond(final DeviceQueue queue, final DescriptorChain chain, final int type, final int hdrFlags,
        final long hdrFence, final int hdrCtx, final int hdrRing)
    {
        final int total = HDR_SIZE + payloadLength(type);
        int flags = 0;
        long fence = 0;
        int ctx = 0;
        int ring = 0;
        if (0 != (hdrFlags & FLAG_FENCE))
        {
            flags = FLAG_FENCE;
            fence = hdrFence;
            ctx = hdrCtx;
            if (0 != (hdrFlags & FLAG_INFO_RING_IDX))
            {
                flags |= FLAG_INFO_RING_IDX;
                ring = hdrRing;
            }
        }
        putU32(buffer, HDR_TYPE, type);
        putU32(buffer, HDR_FLAGS, flags);
        putU64(buffer, HDR_FENCE_ID, fence);
        putU32(buffer, HDR_CTX_ID, ctx);
        // ring_idx (u8) and the 3 padding bytes.
        putU32(buffer, HDR_RING_IDX, ring & 0xFF);
        if (chain.writableBytes() < total)
        {
            if (0 == shortResponseBuffers++)
            {
                LOG.log(Level.WARNING, name + ": response buffer of " + chain.writableBytes() + " bytes is too small"
                    + " for " + GpuProtocol.name(type) + " (" + total + " bytes); returned with nothing written"
                    + " (logged once)");
            }
            queue.complete(chain, 0);
            return;
        }
        queue.complete(chain, write(queue.memory(), chain, total) ? total : 0);
    }

    /**
     * Copies the response into the writable buffers through {@code memory} (the current snapshot: a held chain may
     * have been popped under an older one).
     */
    private boolean write(final GuestMemory memory, final DescriptorChain chain, final int total)
    {
        long done = 0;
        try
        {
            for (int i = chain.readableCount(); i < chain.count() && done < total; i++)
            {
                final long n = Math.min(total - done, chain.length(i) & 0xFFFF_FFFFL);
                memory.write(chain.address(i), buffer, done, n);
                done += n;
            }
            return true;
        }
        catch (final GuestMemoryException e)
        {
            if (errors.allow())
            {
                errors.warn("response to request " + chain.head() + " not written: " + e.getMessage());
            }
            return false;
        }
    }
}
