package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

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
 * <b>3D.</b> How virgl fits (not implemented yet): GET_CAPSET_INFO/GET_CAPSET answer from {@link #capsetCount} and
 * the renderer's capsets; CTX_CREATE/DESTROY, CTX_ATTACH/DETACH_RESOURCE, RESOURCE_CREATE_3D,
 * TRANSFER_TO/FROM_HOST_3D and SUBMIT_3D get rows of their own in the command table that call methods added here;
 * RESOURCE_CREATE_2D, ATTACH/DETACH_BACKING and TRANSFER_TO_HOST_2D go to virglrenderer through the methods below;
 * {@link #present} reads the resource back on RESOURCE_FLUSH; {@link #loadCursor} reads a 3D cursor resource. A
 * fenced command then completes when virglrenderer signals its fence on its poll fd: the device holds its response
 * in the answer-later queue ({@link HeldRequests}) until {@link #fenceCompletesLater} fences are reported done. A 2D
 * renderer finishes every command before it returns, so its fences are done at once.
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
}
