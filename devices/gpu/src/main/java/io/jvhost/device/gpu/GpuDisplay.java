package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import io.jvhost.device.FdWatcher;

/**
 * Where the GPU's scanouts are shown: QEMU's display through the vhost-user-gpu socket, or jvhost's own viewers.
 * <p>
 * Output methods are called on the GPU's worker threads and must never block on the display (a slow or stuck
 * display drops or coalesces frames, it does not stall the guest). Requests for display information complete
 * asynchronously, on any thread.
 */
public interface GpuDisplay
{
    /**
     * Asks the display for its outputs (sizes the user chose, which are connected).
     *
     * @param done receives up to 16 modes, or null when the display could not answer (then defaults apply).
     * @return false when this display cannot answer at all (done is never called).
     */
    boolean requestDisplayInfo(Consumer<DisplayMode[]> done);

    /**
     * Asks the display for the EDID of {@code scanout}.
     *
     * @param done receives the EDID bytes (128·n), or null when the display could not answer.
     * @return false when this display cannot answer at all (done is never called).
     */
    boolean requestEdid(int scanout, Consumer<byte[]> done);

    /**
     * A scanout now shows a {@code width}×{@code height} image; 0×0 disables it.
     * <p>
     * A display that keeps a copy of the picture reserves its memory here, from the device's
     * {@link io.jvhost.device.MemoryBudget}, and returns false when it does not fit: it then shows the scanout
     * disabled, and the device refuses the guest's SET_SCANOUT with ERR_OUT_OF_MEMORY and disables the scanout on
     * every display. Disabling always succeeds.
     *
     * @return false when this display cannot hold a picture this large.
     */
    boolean setScanout(int scanout, int width, int height);

    /**
     * Pixels of a scanout changed. {@code pixels} holds the rectangle's first pixel at {@code offset}, rows
     * {@code stride} bytes apart, in virtio-gpu {@code format} (see {@link PixelFormat}); the display copies (and
     * converts) what it needs before returning. Coordinates are relative to the scanout.
     */
    void updateScanout(int scanout, int x, int y, int width, int height, MemorySegment pixels, long offset, int stride,
        PixelFormat format);

    /**
     * Defines the cursor image (64×64 ARGB8888, B,G,R,A in memory) and shows it at (x, y) with the given hotspot.
     */
    void defineCursor(int scanout, int x, int y, int hotX, int hotY, MemorySegment argb64x64);

    /**
     * Moves the cursor, or hides it when {@code visible} is false.
     */
    void moveCursor(int scanout, int x, int y, boolean visible);

    /**
     * How to tell the device that this display's outputs changed (a viewer asked for another size): the device then
     * raises VIRTIO_GPU_EVENT_DISPLAY and the guest asks for display info again. Called whenever the device takes this
     * display on, from any thread; {@code outputsChanged} may be run from any thread and never blocks. Default: ignored
     * (the display never changes its outputs).
     */
    default void setOutputsListener(final Runnable outputsChanged)
    {
    }

    /**
     * Offers the GPU's control-queue worker for reading the display's answers ({@link
     * io.jvhost.device.DeviceContext#watch}): a display that receives them on a descriptor can watch it there, so an
     * answer completes the command waiting for it without a hand-over between threads. Null takes the offer back
     * (the display reads on its own again). Called on the worker. Default: ignored.
     */
    default void readRepliesOn(final FdWatcher watcher)
    {
    }
}
