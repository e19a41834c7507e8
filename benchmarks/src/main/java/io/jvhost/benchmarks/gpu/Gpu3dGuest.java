package io.jvhost.benchmarks.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.os.NativeException;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * The guest side of a 3D virtio-gpu for Gpu3dBench, without a kernel: what Mesa's virgl driver and Linux's KMS put
 * on the control queue to show a rendered frame. Set-up: CTX_CREATE, RESOURCE_CREATE_3D of a B8G8R8X8 render target
 * that can be scanned out, CTX_ATTACH_RESOURCE, SET_SCANOUT, and one SUBMIT_3D binding a surface on it as the
 * framebuffer. Each frame: SUBMIT_3D of a colour clear of the whole target (9 dwords) and RESOURCE_FLUSH of the whole
 * target, queued together with one kick (the page flip after the frame's rendering).
 * <p>
 * The other workload, {@link Workload#READBACK_TO_GUEST}, is one that QEMU's C back-end can also serve here (it cannot
 * show a 3D scanout without dma-buf export): no scanout; the target gets guest backing (RESOURCE_ATTACH_BACKING) and
 * each frame is the SUBMIT_3D clear and a TRANSFER_FROM_HOST_3D of the whole target into that backing, after which
 * the guest checks the colour in its own memory.
 * <p>
 * Requests are written once into guest RAM; a frame patches the clear colour in place and allocates nothing.
 * Layouts use literal offsets from the virtio spec (5.7.6).
 */
final class Gpu3dGuest
{
    static final int SET_SCANOUT = 0x0103;
    static final int RESOURCE_FLUSH = 0x0104;
    static final int RESOURCE_ATTACH_BACKING = 0x0106;
    static final int TRANSFER_FROM_HOST_3D = 0x0206;
    static final int CTX_CREATE = 0x0200;
    static final int CTX_ATTACH_RESOURCE = 0x0202;
    static final int RESOURCE_CREATE_3D = 0x0204;
    static final int SUBMIT_3D = 0x0207;
    static final int OK_NODATA = 0x1100;
    /** VIRTIO_GPU_F_VIRGL. */
    static final long F_VIRGL = 1L;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CTX = 1;
    private static final int SURFACE = 1;
    private static final int STREAM_DWORDS = 32;
    /** The clear's red channel: dword 2 of the CLEAR command (after its header and buffer mask). */
    private static final int RED_OFFSET = 2 * Integer.BYTES;

    private final FrontendQueue control;
    private final long timeoutNanos;
    private final int width;
    private final int height;
    private final MemorySegment stream;
    private final CommandSlot ctxCreate;
    private final CommandSlot create;
    private final CommandSlot attach;
    private final CommandSlot scanout;
    private final CommandSlot submit;
    private final CommandSlot flush;
    private final CommandSlot backing;
    private final CommandSlot transfer;
    private final MemorySegment pixels;
    private Workload workload;

    /** What a frame asks of the back-end. */
    enum Workload
    {
        /** SUBMIT_3D clear + RESOURCE_FLUSH of the scanout: the back-end reads the frame back for its display. */
        DISPLAY,
        /** SUBMIT_3D clear + TRANSFER_FROM_HOST_3D of the whole target into the guest's backing; no scanout. */
        READBACK_TO_GUEST
    }

    /**
     * Places every command's buffers, and the command stream SUBMIT_3D reads, in {@code ram}.
     *
     * @param timeoutNanos how long any command may take before the back-end is declared stuck.
     */
    Gpu3dGuest(final GuestRam ram, final FrontendQueue control, final int width, final int height,
        final long timeoutNanos)
    {
        this.control = control;
        this.timeoutNanos = timeoutNanos;
        this.width = width;
        this.height = height;
        final long streamGpa = ram.allocate(STREAM_DWORDS * Integer.BYTES, 64);
        stream = ram.slice(streamGpa, STREAM_DWORDS * Integer.BYTES);
        ctxCreate = new CommandSlot(ram, control, CTX_CREATE, 96, 0, 0, 24);
        create = new CommandSlot(ram, control, RESOURCE_CREATE_3D, 72, 0, 0, 24);
        attach = new CommandSlot(ram, control, CTX_ATTACH_RESOURCE, 32, 0, 0, 24);
        scanout = new CommandSlot(ram, control, SET_SCANOUT, 48, 0, 0, 24);
        submit = new CommandSlot(ram, control, SUBMIT_3D, 32, streamGpa, STREAM_DWORDS * Integer.BYTES, 24);
        flush = new CommandSlot(ram, control, RESOURCE_FLUSH, 48, 0, 0, 24);
        final long pixelsGpa = ram.allocate(frameBytes(), 4096);
        pixels = ram.slice(pixelsGpa, frameBytes());
        final long entryGpa = ram.allocate(16, 64);
        final MemorySegment entry = ram.slice(entryGpa, 16);
        entry.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, pixelsGpa);
        entry.set(U32, 8, (int)frameBytes());
        entry.set(U32, 12, 0);
        backing = new CommandSlot(ram, control, RESOURCE_ATTACH_BACKING, 32, entryGpa, 16, 24);
        transfer = new CommandSlot(ram, control, TRANSFER_FROM_HOST_3D, 72, 0, 0, 24);
    }

    int width()
    {
        return width;
    }

    int height()
    {
        return height;
    }

    long frameBytes()
    {
        return (long)width * height * Integer.BYTES;
    }

    /**
     * The context, the render target {@code resourceId} (on scanout 0 for {@link Workload#DISPLAY}, with guest
     * backing for {@link Workload#READBACK_TO_GUEST}), and its surface bound as the framebuffer.
     */
    void setUp(final int resourceId, final Workload workload) throws NativeException
    {
        this.workload = workload;
        ctxCreate.request.set(U32, 16, CTX);
        ctxCreate.request.set(U32, 24, 8);
        ctxCreate.request.set(U32, 32, 0x33_75_70_67); // "gpu3" of the debug name
        ctxCreate.request.set(U32, 36, 0x63_6E_65_62); // "benc"
        ctxCreate.expect(timeoutNanos, "CTX_CREATE", OK_NODATA);
        create.request.set(U32, 24, resourceId);
        create.request.set(U32, 28, ResourceCreateArgs.TARGET_TEXTURE_2D);
        create.request.set(U32, 32, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM);
        create.request.set(U32, 36, ResourceCreateArgs.BIND_RENDER_TARGET | ResourceCreateArgs.BIND_SCANOUT);
        create.request.set(U32, 40, width);
        create.request.set(U32, 44, height);
        create.request.set(U32, 48, 1);
        create.request.set(U32, 52, 1);
        create.expect(timeoutNanos, "RESOURCE_CREATE_3D", OK_NODATA);
        attach.request.set(U32, 16, CTX);
        attach.request.set(U32, 24, resourceId);
        attach.expect(timeoutNanos, "CTX_ATTACH_RESOURCE", OK_NODATA);
        if (workload == Workload.DISPLAY)
        {
            scanout.request.set(U32, 32, width);
            scanout.request.set(U32, 36, height);
            scanout.request.set(U32, 44, resourceId);
            scanout.expect(timeoutNanos, "SET_SCANOUT", OK_NODATA);
        }
        else
        {
            backing.request.set(U32, 24, resourceId);
            backing.request.set(U32, 28, 1);
            backing.expect(timeoutNanos, "RESOURCE_ATTACH_BACKING", OK_NODATA);
        }
        try (Arena arena = Arena.ofConfined())
        {
            final VirglCommandStream s = new VirglCommandStream(arena, STREAM_DWORDS)
                .createSurface(SURFACE, resourceId, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0, 0, 0)
                .setFramebufferState(SURFACE, 0);
            submitStream(s);
            submit.expect(timeoutNanos, "SUBMIT_3D (surface and framebuffer)", OK_NODATA);
            s.reset().clear(VirglCommandStream.CLEAR_COLOR0, 0f, 0f, 0f, 1f, 1.0, 0);
            submitStream(s);
        }
        flush.request.set(U32, 32, width);
        flush.request.set(U32, 36, height);
        flush.request.set(U32, 40, resourceId);
        // TRANSFER_FROM_HOST_3D: ctx_id in the header, box (x, y, z, w, h, d), offset, resource, level, strides.
        transfer.request.set(U32, 16, CTX);
        transfer.request.set(U32, 36, width);
        transfer.request.set(U32, 40, height);
        transfer.request.set(U32, 44, 1);
        transfer.request.set(U32, 56, resourceId);
        transfer.request.set(U32, 64, width * Integer.BYTES);
    }

    private void submitStream(final VirglCommandStream s)
    {
        final int bytes = s.dwords() * Integer.BYTES;
        MemorySegment.copy(s.segment(), 0, stream, 0, bytes);
        submit.request.set(U32, 16, CTX);
        submit.request.set(U32, 24, bytes);
        submit.extraLength(bytes);
    }

    /**
     * Queues SUBMIT_3D clearing the target to {@code rgb} (0xRRGGBB) and, by the workload, RESOURCE_FLUSH of the
     * whole target or its TRANSFER_FROM_HOST_3D into the guest's backing, with one kick. Complete it with
     * {@link #awaitFrame()}.
     */
    void submitFrame(final int rgb)
    {
        stream.set(ValueLayout.JAVA_FLOAT_UNALIGNED, RED_OFFSET, (rgb >>> 16 & 0xFF) / 255f);
        stream.set(ValueLayout.JAVA_FLOAT_UNALIGNED, RED_OFFSET + 4, (rgb >>> 8 & 0xFF) / 255f);
        stream.set(ValueLayout.JAVA_FLOAT_UNALIGNED, RED_OFFSET + 8, (rgb & 0xFF) / 255f);
        submit.add();
        if (workload == Workload.DISPLAY)
        {
            flush.add();
        }
        else
        {
            pixels.set(U32, 0, 0);
            pixels.set(U32, frameBytes() - Integer.BYTES, 0);
            transfer.add();
        }
        control.publishAndKick();
    }

    /**
     * Waits for both commands of the last {@link #submitFrame} on the used ring and checks they succeeded.
     */
    void awaitFrame() throws NativeException
    {
        final boolean display = workload == Workload.DISPLAY;
        final CommandSlot second = display ? flush : transfer;
        CommandSlot.awaitUsed(control, timeoutNanos, 2,
            display ? "SUBMIT_3D + RESOURCE_FLUSH" : "SUBMIT_3D + TRANSFER_FROM_HOST_3D");
        final int s = submit.responseType();
        final int f = second.responseType();
        if (s != OK_NODATA || f != OK_NODATA)
        {
            throw new IllegalStateException("SUBMIT_3D answered 0x" + Integer.toHexString(s) + ", "
                + (display ? "RESOURCE_FLUSH" : "TRANSFER_FROM_HOST_3D") + " 0x" + Integer.toHexString(f));
        }
    }

    /**
     * @return the pixel (0xRRGGBB) at (x, y) of the guest's backing, as the last TRANSFER_FROM_HOST_3D left it.
     */
    int guestPixel(final int x, final int y)
    {
        return pixels.get(U32, ((long)y * width + x) * Integer.BYTES) & 0xFF_FFFF;
    }
}
