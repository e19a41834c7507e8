package io.jvhost.e2e.support;

import java.lang.foreign.MemorySegment;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * A guest's virtio-gpu control queue without a kernel: one command at a time, the request (and any mem entries) in
 * device-readable buffers, a 24-byte response after them; each call waits for its response. Layouts are the virtio
 * spec's (5.7.6), written with literal offsets.
 */
public final class GpuControl extends GpuControlQueue
{
    public static final int CREATE_2D = 0x0101;
    public static final int UNREF = 0x0102;
    public static final int SET_SCANOUT = 0x0103;
    public static final int FLUSH = 0x0104;
    public static final int TRANSFER_TO_HOST_2D = 0x0105;
    public static final int ATTACH_BACKING = 0x0106;
    public static final int CREATE_BLOB = 0x010c;
    public static final int SET_SCANOUT_BLOB = 0x010d;
    public static final int OK_NODATA = 0x1100;
    public static final int ERR_OUT_OF_MEMORY = 0x1201;
    public static final int ERR_INVALID_PARAMETER = 0x1205;
    public static final int BLOB_MEM_GUEST = 1;
    public static final int B8G8R8X8 = 2;
    /** VIRTIO_GPU_F_RESOURCE_BLOB. */
    public static final long F_RESOURCE_BLOB = 1L << 3;

    private static final int RESPONSE = 24;

    public GpuControl(final GuestRam ram, final FrontendQueue control)
    {
        super(ram, control, RESPONSE);
    }

    /**
     * Writes {@code count} mem entries ({@code gpa}, {@code length}) into guest RAM.
     *
     * @return where they are.
     */
    public long entries(final long[] gpas, final int[] lengths)
    {
        final long at = ram.allocate(16L * gpas.length, 64);
        final MemorySegment e = ram.slice(at, 16L * gpas.length);
        e.fill((byte)0);
        for (int i = 0; i < gpas.length; i++)
        {
            e.set(U64, 16L * i, gpas[i]);
            e.set(U32, 16L * i + 8, lengths[i]);
        }
        return at;
    }

    public int create2d(final int id, final int width, final int height) throws NativeException
    {
        start(CREATE_2D);
        request.set(U32, 24, id);
        request.set(U32, 28, B8G8R8X8);
        request.set(U32, 32, width);
        request.set(U32, 36, height);
        return call(40, 0, 0);
    }

    public int unref(final int id) throws NativeException
    {
        start(UNREF);
        request.set(U32, 24, id);
        return call(32, 0, 0);
    }

    public int attachBacking(final int id, final long entriesGpa, final int count) throws NativeException
    {
        start(ATTACH_BACKING);
        request.set(U32, 24, id);
        request.set(U32, 28, count);
        return call(32, entriesGpa, 16 * count);
    }

    public int createBlob(final int id, final long size, final long entriesGpa, final int count)
        throws NativeException
    {
        start(CREATE_BLOB);
        request.set(U32, 24, id);
        request.set(U32, 28, BLOB_MEM_GUEST);
        request.set(U32, 36, count);
        request.set(U64, 48, size);
        return call(56, entriesGpa, 16 * count);
    }

    public int setScanout(final int scanout, final int id, final int width, final int height) throws NativeException
    {
        start(SET_SCANOUT);
        rect(0, 0, width, height);
        request.set(U32, 40, scanout);
        request.set(U32, 44, id);
        return call(48, 0, 0);
    }

    /**
     * SET_SCANOUT_BLOB of a {@code width}×{@code height} B8G8R8X8 framebuffer at offset 0 of the blob, shown whole.
     */
    public int setScanoutBlob(final int scanout, final int id, final int width, final int height)
        throws NativeException
    {
        start(SET_SCANOUT_BLOB);
        rect(0, 0, width, height);
        request.set(U32, 40, scanout);
        request.set(U32, 44, id);
        request.set(U32, 48, width);
        request.set(U32, 52, height);
        request.set(U32, 56, B8G8R8X8);
        request.set(U32, 64, width * 4);
        return call(96, 0, 0);
    }

    public int flush(final int id, final int width, final int height) throws NativeException
    {
        start(FLUSH);
        rect(0, 0, width, height);
        request.set(U32, 40, id);
        return call(48, 0, 0);
    }

    public int transfer(final int id, final int width, final int height) throws NativeException
    {
        start(TRANSFER_TO_HOST_2D);
        rect(0, 0, width, height);
        request.set(U32, 48, id);
        return call(56, 0, 0);
    }

    private void rect(final int x, final int y, final int width, final int height)
    {
        request.set(U32, 24, x);
        request.set(U32, 28, y);
        request.set(U32, 32, width);
        request.set(U32, 36, height);
    }

    private int call(final int requestSize, final long extraGpa, final int extraSize) throws NativeException
    {
        return send(requestSize, extraGpa, extraSize, RESPONSE);
    }
}
