package io.jvhost.e2e.support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * A guest's virtio-gpu control queue for 3D commands, without a kernel: any request (and what follows it) in
 * device-readable buffers, a response buffer of the caller's size after them; each call waits for its response.
 * Layouts are the virtio spec's (5.7.6), written with literal offsets.
 */
public final class Gpu3dControl
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

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int REQUEST_MAX = 96;
    private static final int RESPONSE_MAX = 24 + 4096;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final GuestRam ram;
    private final FrontendQueue control;
    private final long requestGpa;
    private final long responseGpa;
    /** The request being built (zeroed by {@link #begin}); fill it with {@link #u32}/{@link #u64}. */
    private final MemorySegment request;
    private final MemorySegment response;

    public Gpu3dControl(final GuestRam ram, final FrontendQueue control)
    {
        this.ram = ram;
        this.control = control;
        this.requestGpa = ram.allocate(REQUEST_MAX, 64);
        this.responseGpa = ram.allocate(RESPONSE_MAX, 64);
        this.request = ram.slice(requestGpa, REQUEST_MAX);
        this.response = ram.slice(responseGpa, RESPONSE_MAX);
    }

    /** Starts a request of {@code type}. */
    public Gpu3dControl begin(final int type)
    {
        request.fill((byte)0);
        request.set(U32, 0, type);
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
        response.fill((byte)0);
        final long[] gpas = extraSize > 0 ? new long[] {requestGpa, extraGpa, responseGpa}
            : new long[] {requestGpa, responseGpa};
        final int[] lengths = extraSize > 0 ? new int[] {size, extraSize, responseSize}
            : new int[] {size, responseSize};
        if (control.add(gpas, lengths, gpas.length - 1, 1) < 0)
        {
            throw new IllegalStateException("control queue full");
        }
        control.publishAndKick();
        if (0 == control.awaitUsed(TIMEOUT))
        {
            throw new IllegalStateException("command 0x" + Integer.toHexString(request.get(U32, 0))
                + " not answered within " + TIMEOUT);
        }
        return response.get(U32, 0);
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
