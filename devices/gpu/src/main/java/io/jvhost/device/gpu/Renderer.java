package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.gpu.wire.ResourceCreate3d;
import io.jvhost.device.gpu.wire.Transfer3d;
import io.jvhost.memory.GuestMemory;

/**
 * Where resources live and pixels come from: the device's {@link CommandTable} decodes and checks a request, and the
 * renderer carries out what touches resources. {@link SoftwareRenderer} is 2D: images in host memory, copied from
 * the guest's backing. A virglrenderer one (3D mode) would hold its resources in virglrenderer and implement the
 * 3D part below as well; the scanouts, cursor, held requests and displays stay the device's, whatever renders.
 * <p>
 * <b>Answers.</b> Methods that carry out a command return {@link Command.Handler#OK} or the RESP_ERR_* code, having
 * reported the reason through the device's {@link GuestErrors}. Everything is called on the worker, under the device
 * lock (a reset on the transport's thread, under the same lock).
 * <p>
 * <b>3D.</b> {@link VirglRendererAdapter} holds its resources and contexts in virglrenderer and implements the 3D
 * methods below (the 2D renderer never gets them: their commands are not offered without VIRTIO_GPU_F_VIRGL).
 * RESOURCE_CREATE_2D, ATTACH/DETACH_BACKING and TRANSFER_TO_HOST_2D go to virglrenderer too; {@link #present}
 * reads the resource back on RESOURCE_FLUSH; {@link #loadCursor} reads a 3D cursor resource. A fenced command
 * completes when its fence ({@link #createFence}) has signalled: the device holds the response ({@link HeldRequests})
 * until then. A 2D renderer finishes every command before it returns, so its fences are done at once.
 */
interface Renderer
{
    /** {@link #loadCursor}: the image was loaded. */
    int CURSOR_LOADED = 0;
    /** {@link #loadCursor}: a blob too small for 64x64 pixels, or no longer in guest memory. */
    int CURSOR_BAD_BLOB = 1;
    /** {@link #loadCursor}: an image that is not 64x64. */
    int CURSOR_NOT_64 = 2;

    /**
     * @return the resource with this guest id, or null.
     */
    Resource resource(int resourceId);

    /**
     * @return resources the guest holds.
     */
    int resourceCount();

    /**
     * @return host memory the resources hold, counted against the device's memory budget.
     */
    long hostMemoryUsed();

    /**
     * RESOURCE_CREATE_2D, with its request's values.
     */
    int createResource2d(int resourceId, int format, long width, long height);

    /**
     * RESOURCE_CREATE_BLOB; {@code entries} reads the mem entries from the request when the renderer needs them.
     */
    int createBlob(ControlRequest request, BackingReader entries, int resourceId, int blobMem, long size,
        long count);

    /**
     * RESOURCE_UNREF of a resource no scanout shows any more: drops it and frees what it held.
     */
    void unref(Resource resource);

    /**
     * RESOURCE_ATTACH_BACKING.
     */
    int attachBacking(ControlRequest request, BackingReader entries, int resourceId, long count);

    /**
     * RESOURCE_DETACH_BACKING.
     */
    int detachBacking(int resourceId);

    /**
     * TRANSFER_TO_HOST_2D: from the guest's backing into the resource.
     */
    int transferToHost2d(int resourceId, long x, long y, long width, long height, long offset, GuestMemory memory);

    /**
     * Sends the display the part of scanout {@code s} that changed: the {@code width}x{@code height} rectangle at
     * ({@code left}, {@code top}) of what it shows (resource or framebuffer coordinates), which is at ({@code ux},
     * {@code uy}) on the scanout. Only called with a display attached and a rectangle inside the scanout.
     */
    void present(Scanout s, long left, long top, int width, int height, int ux, int uy, GuestMemory memory,
        DisplayOutputs out);

    /**
     * Converts a cursor resource into {@code image} (64x64, B,G,R,A).
     *
     * @return {@link #CURSOR_LOADED}, or why not.
     */
    int loadCursor(Resource resource, GuestMemory memory, MemorySegment image);

    /**
     * Frees every resource (guest reset). Scanouts and cursor have let go of them already.
     */
    void reset();

    /**
     * @return capability sets offered (config {@code num_capsets}); 0 without 3D.
     */
    default int capsetCount()
    {
        return 0;
    }

    /**
     * @return true when a fenced command's fence is signalled later (3D), false when the command is done on return.
     */
    default boolean fenceCompletesLater()
    {
        return false;
    }
    // ---- 3D: only in 3D mode (their commands are refused otherwise) ----

    /**
     * On the worker, before it handles commands (3D: starts virglrenderer on this thread, runs a pending reset).
     */
    default void enter()
    {
    }

    /**
     * The worker thread is ending (3D: virglrenderer is cleaned up on it).
     */
    default void threadEnding()
    {
    }

    /**
     * @return a descriptor readable when fences may have signalled (watched on the worker), or -1.
     */
    default int pollFd()
    {
        return -1;
    }

    /**
     * Retires signalled fences (worker).
     */
    default void pollFences()
    {
    }

    /**
     * A fence after everything submitted so far.
     *
     * @return its id (for {@link #fenceDone}), or -1 when it could not be made (reported).
     */
    default long createFence()
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * A fence on ring {@code ring} of context {@code ctxId} after everything that context has queued, reported to
     * {@link RingFences#signalled} when it signals (VIRTIO_GPU_F_CONTEXT_INIT).
     *
     * @param seq the number to report it by ({@link RingFences#hold}).
     * @return 0, or a failure (reported).
     */
    default int createContextFence(final int ctxId, final int ring, final long seq)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * @return true when context {@code ctxId} exists.
     */
    default boolean hasContext(final int ctxId)
    {
        return false;
    }

    /**
     * @return how many rings context {@code ctxId} may fence on (0: no such context).
     */
    default int ringCount(final int ctxId)
    {
        return hasContext(ctxId) ? RingFences.MAX_RINGS : 0;
    }

    /**
     * @return true once fence {@code fence} has signalled.
     */
    default boolean fenceDone(final long fence)
    {
        return true;
    }

    /**
     * @return how soon to look again for a fence when no descriptor is watched.
     */
    default long fencePollNanos()
    {
        return 1_000_000L;
    }

    /**
     * GET_CAPSET_INFO: fills the response payload.
     */
    default int capsetInfo(final long index, final MemorySegment response)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * GET_CAPSET: fills the response payload with {@link #capsetBytes} bytes.
     */
    default int capset(final long capsetId, final long version, final MemorySegment response)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * @return the payload size of the last successful {@link #capset}.
     */
    default int capsetBytes()
    {
        return 0;
    }

    /**
     * CTX_CREATE; the debug name is read from {@code request} (the request buffer).
     *
     * @param contextInitNegotiated VIRTIO_GPU_F_CONTEXT_INIT was negotiated: {@code contextInit} names a capset.
     */
    default int ctxCreate(final int ctxId, final long nameLength, final int contextInit,
        final boolean contextInitNegotiated, final MemorySegment request)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * CTX_DESTROY.
     */
    default int ctxDestroy(final int ctxId)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * CTX_ATTACH_RESOURCE ({@code attach}) or CTX_DETACH_RESOURCE.
     */
    default int ctxResource(final boolean attach, final int ctxId, final int resourceId)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * RESOURCE_CREATE_3D.
     */
    default int createResource3d(final ResourceCreate3d request)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * TRANSFER_TO_HOST_3D ({@code toHost}) or TRANSFER_FROM_HOST_3D, through context {@code ctxId} (0: none).
     */
    default int transfer3d(final boolean toHost, final int ctxId, final Transfer3d request, final GuestMemory memory)
    {
        throw new UnsupportedOperationException("3D only");
    }

    /**
     * SUBMIT_3D: {@code size} bytes of command stream follow the {@code fixed}-byte structure in the chain.
     */
    default int submit3d(final int ctxId, final long size, final ControlRequest request, final int fixed)
    {
        throw new UnsupportedOperationException("3D only");
    }
}
