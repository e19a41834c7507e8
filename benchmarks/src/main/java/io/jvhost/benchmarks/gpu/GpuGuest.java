package io.jvhost.benchmarks.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * The guest side of a virtio-gpu for GpuBench: Linux's command shapes on the control queue, without a kernel.
 * <p>
 * Every command is one INDIRECT descriptor whose table holds the request (device-readable), any extra data (the
 * ATTACH_BACKING entry array, its own descriptor) and the response buffer (device-writable): what Linux's
 * virtio-gpu driver puts on the ring once VIRTIO_RING_F_INDIRECT_DESC is negotiated. TRANSFER_TO_HOST_2D and
 * RESOURCE_FLUSH of one update go out together with one kick, as Linux's plane update queues both and notifies once.
 * <p>
 * Requests are written once into guest RAM; the hot loops only patch the rectangle and offset fields in place, so
 * the steady state allocates nothing. The framebuffer resource is backed, like a Linux shmem dumb buffer, by
 * scattered 4 KiB pages: page {@code i} of the buffer is a random page of a pool twice the buffer's size, so no two
 * consecutive buffer pages are guaranteed adjacent and the back-ends cannot take a contiguous fast path.
 * Layouts use literal offsets from the virtio spec (5.7.6), independent of either back-end.
 */
final class GpuGuest
{
    static final int GET_DISPLAY_INFO = 0x0100;
    static final int RESOURCE_CREATE_2D = 0x0101;
    static final int SET_SCANOUT = 0x0103;
    static final int RESOURCE_FLUSH = 0x0104;
    static final int TRANSFER_TO_HOST_2D = 0x0105;
    static final int RESOURCE_ATTACH_BACKING = 0x0106;
    static final int GET_EDID = 0x010a;
    static final int OK_NODATA = 0x1100;
    static final int OK_DISPLAY_INFO = 0x1101;
    static final int OK_EDID = 0x1104;
    /** virtio-gpu B8G8R8X8_UNORM: Linux's primary plane format, a straight copy into QEMU's x8r8g8b8. */
    static final int FORMAT_B8G8R8X8 = 2;
    static final int BYTES_PER_PIXEL = 4;
    static final int PAGE = 4096;
    static final int DISPLAY_INFO_SIZE = 408;
    static final int EDID_RESPONSE_SIZE = 1056;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestRam ram;
    private final FrontendQueue control;
    private final long timeoutNanos;
    private final int width;
    private final int height;
    private final int pitch;
    private final long frameBytes;
    private final long[] pageGpas;
    private final long entriesGpa;
    private final CommandSlot displayInfo;
    private final CommandSlot edid;
    private final CommandSlot create;
    private final CommandSlot attach;
    private final CommandSlot scanout;
    private final CommandSlot transfer;
    private final CommandSlot flush;

    /**
     * Places the framebuffer pages and every command's buffers in {@code ram}.
     *
     * @param timeoutNanos how long any command may take before the back-end is declared stuck.
     */
    GpuGuest(final GuestRam ram, final FrontendQueue control, final int width, final int height, final long seed,
        final long timeoutNanos)
    {
        this.ram = ram;
        this.control = control;
        this.timeoutNanos = timeoutNanos;
        this.width = width;
        this.height = height;
        this.pitch = width * BYTES_PER_PIXEL;
        this.frameBytes = (long)pitch * height;
        final int pages = (int)((frameBytes + PAGE - 1) / PAGE);
        final long pool = ram.allocate(2L * pages * PAGE, PAGE);
        // A random choice of half the pool's pages, in random order: scattered like shmem, deterministic per seed.
        final int[] order = new int[2 * pages];
        for (int i = 0; i < order.length; i++)
        {
            order[i] = i;
        }
        final Random random = new Random(seed);
        for (int i = order.length - 1; i > 0; i--)
        {
            final int j = random.nextInt(i + 1);
            final int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        pageGpas = new long[pages];
        for (int i = 0; i < pages; i++)
        {
            pageGpas[i] = pool + (long)order[i] * PAGE;
        }
        entriesGpa = ram.allocate(16L * pages, 64);
        final MemorySegment entries = ram.slice(entriesGpa, 16L * pages);
        entries.fill((byte)0);
        for (int i = 0; i < pages; i++)
        {
            entries.set(U64, 16L * i, pageGpas[i]);
            entries.set(U32, 16L * i + 8, (int)Math.min(PAGE, frameBytes - (long)i * PAGE));
        }
        displayInfo = new CommandSlot(ram, control, GET_DISPLAY_INFO, 24, 0, 0, DISPLAY_INFO_SIZE);
        edid = new CommandSlot(ram, control, GET_EDID, 32, 0, 0, EDID_RESPONSE_SIZE);
        create = new CommandSlot(ram, control, RESOURCE_CREATE_2D, 40, 0, 0, 24);
        attach = new CommandSlot(ram, control, RESOURCE_ATTACH_BACKING, 32, entriesGpa, 16 * pages, 24);
        scanout = new CommandSlot(ram, control, SET_SCANOUT, 48, 0, 0, 24);
        transfer = new CommandSlot(ram, control, TRANSFER_TO_HOST_2D, 56, 0, 0, 24);
        flush = new CommandSlot(ram, control, RESOURCE_FLUSH, 48, 0, 0, 24);
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
        return frameBytes;
    }

    int pages()
    {
        return pageGpas.length;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Framebuffer contents

    /**
     * Fills the framebuffer with a gradient (so every row differs).
     */
    void paint()
    {
        final MemorySegment page = MemorySegment.ofArray(new byte[PAGE]);
        for (int p = 0; p < pageGpas.length; p++)
        {
            for (int o = 0; o < PAGE; o += BYTES_PER_PIXEL)
            {
                final long pixel = ((long)p * PAGE + o) / BYTES_PER_PIXEL;
                final int x = (int)(pixel % width);
                final int y = (int)(pixel / width);
                page.set(U32, o, (x & 0xFF) | (y & 0xFF) << 8 | ((x + y) & 0xFF) << 16);
            }
            final long bytes = Math.min(PAGE, frameBytes - (long)p * PAGE);
            ram.write(pageGpas[p], page, 0, bytes);
        }
    }

    /**
     * Writes {@code value} into pixel ({@code x}, {@code y}) of the framebuffer, through its page.
     */
    void setPixel(final int x, final int y, final int value)
    {
        final long offset = (long)y * pitch + (long)x * BYTES_PER_PIXEL;
        final long gpa = pageGpas[(int)(offset / PAGE)] + offset % PAGE;
        ram.segment().set(U32, ram.offsetOf(gpa), value);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Commands

    /**
     * GET_EDID for scanout 0, as Linux's probe does when EDID was negotiated.
     *
     * @return the EDID's declared size.
     */
    int getEdid() throws NativeException
    {
        edid.request.set(U32, 24, 0);
        edid.expect(timeoutNanos, "GET_EDID", OK_EDID);
        return edid.response.get(U32, 24);
    }

    /**
     * One GET_DISPLAY_INFO round trip (it goes to the display and back).
     *
     * @return the response type.
     */
    int getDisplayInfo() throws NativeException
    {
        return displayInfo.call(timeoutNanos, "GET_DISPLAY_INFO");
    }

    /**
     * @return pmode {@code i} of the last GET_DISPLAY_INFO response as {x, y, width, height, enabled}.
     */
    int[] displayMode(final int i)
    {
        final long o = 24 + 24L * i;
        return new int[] {displayInfo.response.get(U32, o), displayInfo.response.get(U32, o + 4),
            displayInfo.response.get(U32, o + 8), displayInfo.response.get(U32, o + 12),
            displayInfo.response.get(U32, o + 16)};
    }

    /**
     * RESOURCE_CREATE_2D (B8G8R8X8, the guest's size), ATTACH_BACKING with one entry per scattered page, SET_SCANOUT
     * on scanout 0: Linux's fbdev set-up.
     */
    void setUpFramebuffer(final int resourceId) throws NativeException
    {
        create.request.set(U32, 24, resourceId);
        create.request.set(U32, 28, FORMAT_B8G8R8X8);
        create.request.set(U32, 32, width);
        create.request.set(U32, 36, height);
        create.expect(timeoutNanos, "RESOURCE_CREATE_2D", OK_NODATA);
        attach.request.set(U32, 24, resourceId);
        attach.request.set(U32, 28, pageGpas.length);
        attach.expect(timeoutNanos, "RESOURCE_ATTACH_BACKING", OK_NODATA);
        scanout.request.set(U32, 24, 0);
        scanout.request.set(U32, 28, 0);
        scanout.request.set(U32, 32, width);
        scanout.request.set(U32, 36, height);
        scanout.request.set(U32, 40, 0);
        scanout.request.set(U32, 44, resourceId);
        scanout.expect(timeoutNanos, "SET_SCANOUT", OK_NODATA);
        transfer.request.set(U32, 48, resourceId);
        flush.request.set(U32, 40, resourceId);
    }

    /**
     * Queues TRANSFER_TO_HOST_2D and RESOURCE_FLUSH of one rectangle (Linux's offset: {@code y * pitch + x * 4})
     * with a single kick. Complete it with {@link #awaitUpdate()}.
     */
    void submitUpdate(final int x, final int y, final int w, final int h)
    {
        transfer.request.set(U32, 24, x);
        transfer.request.set(U32, 28, y);
        transfer.request.set(U32, 32, w);
        transfer.request.set(U32, 36, h);
        transfer.request.set(U64, 40, (long)y * pitch + (long)x * BYTES_PER_PIXEL);
        flush.request.set(U32, 24, x);
        flush.request.set(U32, 28, y);
        flush.request.set(U32, 32, w);
        flush.request.set(U32, 36, h);
        transfer.add();
        flush.add();
        control.publishAndKick();
    }

    /**
     * Waits for both commands of the last {@link #submitUpdate} on the used ring and checks they succeeded.
     */
    void awaitUpdate() throws NativeException
    {
        CommandSlot.awaitUsed(control, timeoutNanos, 2, "TRANSFER_TO_HOST_2D + RESOURCE_FLUSH");
        final int t = transfer.responseType();
        final int f = flush.responseType();
        if (t != OK_NODATA || f != OK_NODATA)
        {
            throw new IllegalStateException("TRANSFER_TO_HOST_2D answered 0x" + Integer.toHexString(t)
                + ", RESOURCE_FLUSH 0x" + Integer.toHexString(f));
        }
    }
}
