package io.jvhost.e2e.support;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * A guest's virtio-gpu control queue for 3D commands, without a kernel: any request (and what follows it) in
 * device-readable buffers, a response buffer of the caller's size after them; each call waits for its response.
 * Layouts are the virtio spec's (5.7.6), written with literal offsets.
 */
public final class Gpu3dControl extends GpuControlQueue
{
    public static final int GET_CAPSET_INFO = 0x0108;
    public static final int GET_CAPSET = 0x0109;
    public static final int CTX_CREATE = 0x0200;
    public static final int CTX_ATTACH_RESOURCE = 0x0202;
    public static final int RESOURCE_CREATE_3D = 0x0204;
    public static final int TRANSFER_FROM_HOST_3D = 0x0206;
    public static final int SUBMIT_3D = 0x0207;
    public static final int OK_CAPSET_INFO = 0x1102;
    public static final int OK_CAPSET = 0x1103;
    public static final int ERR_UNSPEC = 0x1200;
    public static final int ERR_INVALID_RESOURCE_ID = 0x1203;
    public static final int ERR_INVALID_CONTEXT_ID = 0x1204;
    /** VIRTIO_GPU_F_VIRGL. */
    public static final long F_VIRGL = 1L;
    public static final int FLAG_FENCE = 1;
    /** VIRTIO_GPU_FLAG_INFO_RING_IDX: ring_idx (byte 20 of the header) names the context's ring. */
    public static final int FLAG_INFO_RING_IDX = 2;
    /** VIRTIO_GPU_F_CONTEXT_INIT. */
    public static final long F_CONTEXT_INIT = 1L << 4;

    private static final int RESPONSE_MAX = 24 + 4096;

    public Gpu3dControl(final GuestRam ram, final FrontendQueue control)
    {
        super(ram, control, RESPONSE_MAX);
    }

    /** Starts a request of {@code type}. */
    public Gpu3dControl begin(final int type)
    {
        start(type);
        return this;
    }

    public Gpu3dControl u32(final int offset, final long value)
    {
        request.set(U32, offset, (int)value);
        return this;
    }

    public Gpu3dControl u64(final int offset, final long value)
    {
        request.set(U64, offset, value);
        return this;
    }

    /** Sets FLAG_FENCE, the fence id and the context in the header. */
    public Gpu3dControl fence(final long fenceId, final int ctxId)
    {
        return u32(4, FLAG_FENCE).u64(8, fenceId).u32(16, ctxId);
    }

    /** Sends the first {@code size} bytes of the request, then {@code extraSize} bytes at {@code extraGpa}. */
    public int call(final int size, final long extraGpa, final int extraSize, final int responseSize)
        throws NativeException
    {
        return send(size, extraGpa, extraSize, responseSize);
    }

    public int call(final int size) throws NativeException
    {
        return call(size, 0, 0, 24);
    }

    /** @return the u32 at {@code offset} of the last response. */
    public int responseU32(final int offset)
    {
        return response.get(U32, offset);
    }

    /** @return the u64 at {@code offset} of the last response. */
    public long responseU64(final int offset)
    {
        return response.get(U64, offset);
    }

    public GuestRam ram()
    {
        return ram;
    }
}
