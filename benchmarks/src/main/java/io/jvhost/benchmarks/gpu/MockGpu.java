package io.jvhost.benchmarks.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.device.gpu.GpuDevice;
import io.jvhost.device.gpu.GpuDisplay;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.device.gpu.GpuProtocol;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * A {@link GpuDevice} on a mock control ring (as in devices/gpu's tests): the driver side of the ring over off-heap
 * guest RAM in this process, the device served by {@link ActiveQueue#serve} on the caller's thread, and a display in
 * this process. No sockets, no threads: the device's own cost of a command.
 */
public final class MockGpu implements AutoCloseable
{
    static final int QUEUE_SIZE = 64;
    static final int PAGE = 4096;
    static final int RESOURCE_ID = 1;
    private static final long RAM_SIZE = 64L << 20;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What the display does with the pixels of a flush.
     */
    public enum Display
    {
        /** Converts the rectangle into a B,G,R,X surface, as jvhost's QEMU display does into its shadow. */
        COPY,
        /** Drops it: the device's cost without the display's copy. */
        DISCARD
    }

    /**
     * How the resource's backing lies in guest RAM.
     */
    public enum Backing
    {
        /** One 4 KiB page per entry, scattered in random order over twice the frame's size (Linux shmem). */
        PAGES,
        /** One entry for the whole frame: the device copies a full-width rectangle in one go. */
        CONTIGUOUS
    }

    /**
     * A display in this process.
     */
    private static final class LocalDisplay implements GpuDisplay
    {
        private final Display mode;
        private final Arena arena = Arena.ofShared();
        private MemorySegment surface = MemorySegment.NULL;
        private int width;
        long updates;

        LocalDisplay(final Display mode)
        {
            this.mode = mode;
        }

        @Override
        public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
        {
            return false;
        }

        @Override
        public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
        {
            return false;
        }

        @Override
        public boolean setScanout(final int scanout, final int w, final int h)
        {
            width = w;
            if (mode == Display.COPY && w > 0 && surface.byteSize() < (long)w * h * 4)
            {
                surface = arena.allocate((long)w * h * 4, 64);
            }
            return true;
        }

        @Override
        public void updateScanout(final int scanout, final int x, final int y, final int w, final int h,
            final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
        {
            updates++;
            if (mode == Display.COPY)
            {
                for (int row = 0; row < h; row++)
                {
                    format.toBgrx(pixels, offset + (long)row * stride, surface, ((long)(y + row) * width + x) * 4, w);
                }
            }
        }

        @Override
        public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
            final MemorySegment argb64x64)
        {
        }

        @Override
        public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
        {
        }

        void close()
        {
            arena.close();
        }
    }

    /**
     * One command's request, response and indirect table in guest RAM.
     */
    private final class Command
    {
        final long requestGpa;
        final MemorySegment request;
        final long responseGpa;
        final long tableGpa;
        final long[] gpas;
        final int[] lengths;

        Command(final int type, final int size)
        {
            requestGpa = alloc(size, 64);
            responseGpa = alloc(HDR_SIZE, 64);
            tableGpa = alloc(16L * 4, 16);
            request = ram.asSlice(requestGpa, size);
            request.set(U32, HDR_TYPE, type);
            gpas = new long[] {requestGpa, responseGpa};
            lengths = new int[] {size, HDR_SIZE};
        }

        void add()
        {
            ram.set(U32, responseGpa, 0);
            if (driver.addIndirect(tableGpa, gpas, lengths, 1, 1) < 0)
            {
                throw new IllegalStateException("mock control ring full");
            }
        }

        int responseType()
        {
            return ram.get(U32, responseGpa);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment ram = arena.allocate(RAM_SIZE, PAGE);
    private final DriverQueue driver;
    private final ActiveQueue queue;
    private final GpuDevice device;
    private final LocalDisplay display;
    private final Command transfer;
    private final Command flush;
    /** RESOURCE_CREATE_2D and RESOURCE_UNREF with their ids patched per call, for {@link #createAndUnref}. */
    private final Command[] creates = new Command[QUEUE_SIZE / 2];
    private final Command[] unrefs = new Command[QUEUE_SIZE / 2];
    private final int width;
    private final int height;
    private long next = 0x10_0000;

    MockGpu(final int width, final int height, final Display displayMode, final Backing backing) throws Exception
    {
        this.width = width;
        this.height = height;
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, ram.address())), 8);
        driver = new DriverQueue(ram, 0, QUEUE_SIZE, 0x1000);
        final SplitQueue ring = new SplitQueue(GpuDevice.MAX_QUEUE_SIZE);
        ring.setSize(QUEUE_SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);
        ring.setFeatures(features);
        ring.bind(memory);
        queue = new ActiveQueue(CONTROL_QUEUE, "bench q0", ring, GpuDevice.MAX_QUEUE_SIZE);
        queue.setAckedFeatures(features);
        device = new GpuDevice("bench", GpuOptions.defaults());
        device.attach(q ->
        {
        });
        display = new LocalDisplay(displayMode);
        device.setDisplay(display);

        final long frameBytes = (long)width * height * 4;
        final int pages = (int)((frameBytes + PAGE - 1) / PAGE);
        final long[] entryGpas;
        final int[] entryLengths;
        if (backing == Backing.PAGES)
        {
            final long pool = alloc(2L * pages * PAGE, PAGE);
            final int[] order = new int[2 * pages];
            for (int i = 0; i < order.length; i++)
            {
                order[i] = i;
            }
            final Random random = new Random(1);
            for (int i = order.length - 1; i > 0; i--)
            {
                final int j = random.nextInt(i + 1);
                final int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            entryGpas = new long[pages];
            entryLengths = new int[pages];
            for (int i = 0; i < pages; i++)
            {
                entryGpas[i] = pool + (long)order[i] * PAGE;
                entryLengths[i] = (int)Math.min(PAGE, frameBytes - (long)i * PAGE);
            }
        }
        else
        {
            entryGpas = new long[] {alloc(frameBytes, PAGE)};
            entryLengths = new int[] {(int)frameBytes};
        }
        for (int i = 0; i < entryGpas.length; i++)
        {
            final MemorySegment s = ram.asSlice(entryGpas[i], entryLengths[i]);
            for (long o = 0; o < s.byteSize(); o += 4)
            {
                s.set(U32, o, (int)((i * 4096L + o) * 0x9E3779B1L));
            }
        }

        final Command create = new Command(CMD_RESOURCE_CREATE_2D, CREATE_2D_SIZE);
        create.request.set(U32, CREATE_2D_RESOURCE_ID, RESOURCE_ID);
        create.request.set(U32, CREATE_2D_FORMAT, PixelFormat.B8G8R8X8.value());
        create.request.set(U32, CREATE_2D_WIDTH, width);
        create.request.set(U32, CREATE_2D_HEIGHT, height);
        expectOk(create, "RESOURCE_CREATE_2D");

        final long attachGpa = alloc(ATTACH_SIZE, 64);
        final MemorySegment attach = ram.asSlice(attachGpa, ATTACH_SIZE);
        attach.set(U32, HDR_TYPE, CMD_RESOURCE_ATTACH_BACKING);
        attach.set(U32, ATTACH_RESOURCE_ID, RESOURCE_ID);
        attach.set(U32, ATTACH_NR_ENTRIES, entryGpas.length);
        final long entriesGpa = alloc((long)MEM_ENTRY_SIZE * entryGpas.length, 64);
        for (int i = 0; i < entryGpas.length; i++)
        {
            ram.set(U64, entriesGpa + (long)i * MEM_ENTRY_SIZE + MEM_ENTRY_ADDR, entryGpas[i]);
            ram.set(U32, entriesGpa + (long)i * MEM_ENTRY_SIZE + MEM_ENTRY_LENGTH, entryLengths[i]);
        }
        final long attachResponse = alloc(HDR_SIZE, 64);
        driver.addIndirect(alloc(64, 16), new long[] {attachGpa, entriesGpa, attachResponse},
            new int[] {ATTACH_SIZE, MEM_ENTRY_SIZE * entryGpas.length, HDR_SIZE}, 2, 1);
        driver.publish();
        serveOne("RESOURCE_ATTACH_BACKING");
        if (ram.get(U32, attachResponse) != RESP_OK_NODATA)
        {
            throw new IllegalStateException("RESOURCE_ATTACH_BACKING answered 0x"
                + Integer.toHexString(ram.get(U32, attachResponse)));
        }

        final Command scanout = new Command(CMD_SET_SCANOUT, SET_SCANOUT_SIZE);
        rect(scanout.request, SET_SCANOUT_RECT, 0, 0, width, height);
        scanout.request.set(U32, SET_SCANOUT_SCANOUT_ID, 0);
        scanout.request.set(U32, SET_SCANOUT_RESOURCE_ID, RESOURCE_ID);
        expectOk(scanout, "SET_SCANOUT");

        transfer = new Command(CMD_TRANSFER_TO_HOST_2D, TRANSFER_SIZE);
        transfer.request.set(U32, TRANSFER_RESOURCE_ID, RESOURCE_ID);
        flush = new Command(CMD_RESOURCE_FLUSH, FLUSH_SIZE);
        flush.request.set(U32, FLUSH_RESOURCE_ID, RESOURCE_ID);
        for (int i = 0; i < creates.length; i++)
        {
            creates[i] = new Command(CMD_RESOURCE_CREATE_2D, CREATE_2D_SIZE);
            creates[i].request.set(U32, CREATE_2D_FORMAT, PixelFormat.B8G8R8X8.value());
            unrefs[i] = new Command(CMD_RESOURCE_UNREF, RESOURCE_CMD_SIZE);
        }
        setRect(0, 0, width, height);
        // Once through, checked: every later op repeats exactly this.
        if (update() != 2 * RESP_OK_NODATA || display.updates == 0)
        {
            throw new IllegalStateException("TRANSFER_TO_HOST_2D + RESOURCE_FLUSH failed, display updates "
                + display.updates);
        }
    }

    private long alloc(final long size, final long align)
    {
        final long at = (next + align - 1) & -align;
        next = at + size;
        if (next > RAM_SIZE)
        {
            throw new IllegalStateException("mock guest RAM exhausted");
        }
        return at;
    }

    private static void rect(final MemorySegment request, final long offset, final int x, final int y, final int w,
        final int h)
    {
        request.set(U32, offset, x);
        request.set(U32, offset + 4, y);
        request.set(U32, offset + 8, w);
        request.set(U32, offset + 12, h);
    }

    private void serveOne(final String what)
    {
        queue.serve(device);
        if (driver.pollUsed() == -1)
        {
            throw new IllegalStateException(what + " was not returned");
        }
    }

    private void expectOk(final Command c, final String what)
    {
        c.add();
        driver.publish();
        serveOne(what);
        if (c.responseType() != RESP_OK_NODATA)
        {
            throw new IllegalStateException(what + " answered 0x" + Integer.toHexString(c.responseType()));
        }
    }

    /**
     * The rectangle the next {@link #update()}s transfer and flush (Linux's offset {@code y * pitch + x * 4}).
     */
    void setRect(final int x, final int y, final int w, final int h)
    {
        rect(transfer.request, TRANSFER_RECT, x, y, w, h);
        transfer.request.set(U64, TRANSFER_OFFSET, (long)y * width * 4 + (long)x * 4);
        rect(flush.request, FLUSH_RECT, x, y, w, h);
    }

    /**
     * TRANSFER_TO_HOST_2D + RESOURCE_FLUSH as one batch: add both, publish, serve, reap.
     *
     * @return the sum of the two response types (2 × OK_NODATA when both succeeded).
     */
    int update()
    {
        transfer.add();
        flush.add();
        driver.publish();
        queue.serve(device);
        if (driver.pollUsed() == -1 || driver.pollUsed() == -1)
        {
            throw new IllegalStateException("TRANSFER/FLUSH not returned");
        }
        return transfer.responseType() + flush.responseType();
    }

    int height()
    {
        return height;
    }

    /**
     * RESOURCE_CREATE_2D of a {@code w}×{@code h} resource {@code id} and its RESOURCE_UNREF as one batch: add both,
     * publish, serve, reap.
     *
     * @return the sum of the two response types (2 × OK_NODATA when both succeeded).
     */
    int createAndUnref(final int id, final int w, final int h)
    {
        final Command create = creates[0];
        create.request.set(U32, CREATE_2D_RESOURCE_ID, id);
        create.request.set(U32, CREATE_2D_WIDTH, w);
        create.request.set(U32, CREATE_2D_HEIGHT, h);
        unrefs[0].request.set(U32, GpuProtocol.RESOURCE_ID, id);
        create.add();
        unrefs[0].add();
        driver.publish();
        queue.serve(device);
        if (driver.pollUsed() == -1 || driver.pollUsed() == -1)
        {
            throw new IllegalStateException("CREATE_2D/UNREF not returned");
        }
        return create.responseType() + unrefs[0].responseType();
    }

    /**
     * Creates {@code count} {@code w}×{@code h} resources with ids {@code first}.., a ring's worth per batch.
     *
     * @throws IllegalStateException when one is refused.
     */
    void createResources(final int first, final int count, final int w, final int h)
    {
        for (int done = 0; done < count; )
        {
            final int batch = Math.min(creates.length, count - done);
            for (int i = 0; i < batch; i++)
            {
                creates[i].request.set(U32, CREATE_2D_RESOURCE_ID, first + done + i);
                creates[i].request.set(U32, CREATE_2D_WIDTH, w);
                creates[i].request.set(U32, CREATE_2D_HEIGHT, h);
                creates[i].add();
            }
            driver.publish();
            queue.serve(device);
            for (int i = 0; i < batch; i++)
            {
                if (driver.pollUsed() == -1 || creates[i].responseType() != RESP_OK_NODATA)
                {
                    throw new IllegalStateException("RESOURCE_CREATE_2D of resource " + (first + done + i)
                        + " answered 0x" + Integer.toHexString(creates[i].responseType()));
                }
            }
            done += batch;
        }
    }

    /**
     * A guest reset: every resource goes.
     */
    void resetDevice()
    {
        device.reset();
    }

    /**
     * @return resources the guest holds.
     */
    int resourceCount()
    {
        return device.resourceCount();
    }

    @Override
    public void close()
    {
        device.reset();
        display.close();
        arena.close();
    }
}
