package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * A GPU device on a mock ring, as in RngDeviceTest: the driver side of both queues over Arena-backed guest memory.
 * Guest RAM is two regions adjacent in guest-physical space but not in this process (0..32 MiB and 32..64 MiB), so
 * buffers crossing 32 MiB exercise the region split. Allocation of guest buffers is a bump pointer.
 */
final class GpuHarness implements AutoCloseable
{
    static final int CONTROL_SIZE = 64;
    static final int CURSOR_QUEUE_SIZE = 16;
    static final long REGION_SIZE = 32L << 20;
    static final long RAM_END = 2 * REGION_SIZE;
    static final int PAGE = 4096;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Arena arena = Arena.ofShared();
    final MemorySegment low;
    final MemorySegment high;
    final GuestMemory memory;
    final DriverQueue controlDriver;
    final DriverQueue cursorDriver;
    final ActiveQueue control;
    final ActiveQueue cursor;
    final AtomicLong clock = new AtomicLong(1_000_000_000L);
    final List<Integer> wakes = new ArrayList<>();
    /** Config changes the device asked the transport to pass on. */
    final AtomicInteger configChanges = new AtomicInteger();
    final GpuDevice device;
    private long next = 0x10000;
    /** Response buffers of chains added but not yet polled, by head. */
    private final long[] responseGpa = new long[CONTROL_SIZE];
    private final int[] responseLength = new int[CONTROL_SIZE];

    GpuHarness(final GpuOptions options) throws Exception
    {
        this(options, 0);
    }

    /**
     * @param deviceFeatures device feature bits the "driver" accepted besides VERSION_1 and INDIRECT_DESC (e.g.
     *                       {@code 1L << F_CONTEXT_INIT}).
     */
    GpuHarness(final GpuOptions options, final long deviceFeatures) throws Exception
    {
        this(options, deviceFeatures, null);
    }

    /**
     * @param factory the device's renderer (null: the options').
     */
    GpuHarness(final GpuOptions options, final long deviceFeatures, final GpuDevice.RendererFactory factory)
        throws Exception
    {
        this(options, deviceFeatures, factory, List.of());
    }

    /**
     * @param extra regions beside the two RAM regions (a Xen grant region in one test).
     */
    GpuHarness(final GpuOptions options, final long deviceFeatures, final GpuDevice.RendererFactory factory,
        final List<MemoryRegion> extra) throws Exception
    {
        low = arena.allocate(REGION_SIZE, PAGE);
        high = arena.allocate(REGION_SIZE, PAGE);
        final java.util.ArrayList<MemoryRegion> regions = new java.util.ArrayList<>(extra);
        regions.add(MemoryRegion.ofSegment(0, low, 0x5000_0000L));
        regions.add(MemoryRegion.ofSegment(REGION_SIZE, high, 0x7000_0000L));
        memory = GuestMemory.of(regions, 8);
        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | deviceFeatures;
        controlDriver = new DriverQueue(low, 0, CONTROL_SIZE, 0x1000);
        cursorDriver = new DriverQueue(low, 0, CURSOR_QUEUE_SIZE, 0x4000);
        control = activeQueue(CONTROL_QUEUE, controlDriver, features);
        cursor = activeQueue(CURSOR_QUEUE, cursorDriver, features);
        device = new GpuDevice("gpu-test", options, new io.jvhost.device.MemoryBudget("gpu-test",
            options.maxHostMem()), clock::get, factory);
        final DeviceContext context = new DeviceContext()
        {
            @Override
            public void wake(final int queue)
            {
                synchronized (wakes)
                {
                    wakes.add(queue);
                }
            }

            @Override
            public boolean notifyConfigChanged()
            {
                configChanges.incrementAndGet();
                return true;
            }
        };
        device.attach(context);
    }

    GpuHarness() throws Exception
    {
        this(GpuOptions.defaults());
    }

    private ActiveQueue activeQueue(final int index, final DriverQueue driver, final long features)
        throws Exception
    {
        final SplitQueue ring = new SplitQueue(GpuDevice.MAX_QUEUE_SIZE);
        ring.setSize(driver.size());
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(features);
        ring.bind(memory);
        final ActiveQueue active = new ActiveQueue(index, "gpu q" + index, ring, GpuDevice.MAX_QUEUE_SIZE);
        active.setAckedFeatures(features);
        return active;
    }

    @Override
    public void close()
    {
        device.reset();
        arena.close();
    }

    // ---- guest memory ----

    long alloc(final long size, final long align)
    {
        final long at = (next + align - 1) & -align;
        next = at + size;
        if (next > RAM_END)
        {
            throw new IllegalStateException("test guest RAM exhausted");
        }
        return at;
    }

    long alloc(final long size)
    {
        return alloc(size, 16);
    }

    /**
     * Moves the bump pointer (e.g. to place a buffer across the region boundary).
     */
    void allocateFrom(final long gpa)
    {
        next = gpa;
    }

    void write(final long gpa, final byte[] bytes)
    {
        try
        {
            memory.write(gpa, MemorySegment.ofArray(bytes), 0, bytes.length);
        }
        catch (final Exception e)
        {
            throw new IllegalStateException(e);
        }
    }

    byte[] read(final long gpa, final int length)
    {
        final byte[] out = new byte[length];
        try
        {
            memory.read(gpa, MemorySegment.ofArray(out), 0, length);
        }
        catch (final Exception e)
        {
            throw new IllegalStateException(e);
        }
        return out;
    }

    void writeInt(final long gpa, final int value)
    {
        final MemorySegment s = segmentAt(gpa);
        s.set(U32, offsetIn(gpa), value);
    }

    private MemorySegment segmentAt(final long gpa)
    {
        return gpa < REGION_SIZE ? low : high;
    }

    private static long offsetIn(final long gpa)
    {
        return gpa < REGION_SIZE ? gpa : gpa - REGION_SIZE;
    }

    /**
     * A buffer made of scattered guest pages, one mem entry per page (each page followed by a hole), in the order
     * given by {@code pageOrder} so that guest-physical order differs from buffer order.
     */
    Pages scatteredPages(final long size)
    {
        final int count = (int)((size + PAGE - 1) / PAGE);
        final long[] gpas = new long[count];
        // Allocate backwards with a hole after each page: neither contiguous nor in order.
        final long base = alloc((long)count * 2 * PAGE, PAGE);
        for (int i = 0; i < count; i++)
        {
            gpas[i] = base + (long)(count - 1 - i) * 2 * PAGE;
        }
        return new Pages(gpas, PAGE);
    }

    /**
     * One contiguous buffer, described as entries of {@code entrySize} bytes (as Linux would before coalescing).
     */
    Pages contiguous(final long size, final int entrySize)
    {
        final int count = (int)((size + entrySize - 1) / entrySize);
        final long base = alloc((long)count * entrySize, PAGE);
        final long[] gpas = new long[count];
        for (int i = 0; i < count; i++)
        {
            gpas[i] = base + (long)i * entrySize;
        }
        return new Pages(gpas, entrySize);
    }

    /**
     * Guest buffer pages (entry i covers buffer bytes [i*pageSize, (i+1)*pageSize)).
     */
    final class Pages
    {
        final long[] gpas;
        final int pageSize;

        Pages(final long[] gpas, final int pageSize)
        {
            this.gpas = gpas;
            this.pageSize = pageSize;
        }

        long gpaOf(final long offset)
        {
            return gpas[(int)(offset / pageSize)] + offset % pageSize;
        }

        void writeInt(final long offset, final int value)
        {
            GpuHarness.this.writeInt(gpaOf(offset), value);
        }

        int[] lengths()
        {
            final int[] lengths = new int[gpas.length];
            java.util.Arrays.fill(lengths, pageSize);
            return lengths;
        }
    }

    // ---- requests ----

    /**
     * A request being built: little-endian fields at their offsets.
     */
    static final class Req
    {
        final MemorySegment bytes;

        Req(final int type, final int size)
        {
            bytes = MemorySegment.ofArray(new byte[size]);
            u32(HDR_TYPE, type);
        }

        Req u32(final long offset, final long value)
        {
            bytes.set(U32, offset, (int)value);
            return this;
        }

        Req u64(final long offset, final long value)
        {
            bytes.set(U64, offset, value);
            return this;
        }

        Req rect(final long offset, final long x, final long y, final long width, final long height)
        {
            return u32(offset, x).u32(offset + 4, y).u32(offset + 8, width).u32(offset + 12, height);
        }

        Req fence(final long fenceId, final int ctxId)
        {
            return u32(HDR_FLAGS, FLAG_FENCE).u64(HDR_FENCE_ID, fenceId).u32(HDR_CTX_ID, ctxId);
        }

        byte[] array()
        {
            return bytes.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * A used control chain: what the device wrote.
     */
    record Resp(int head, int length, byte[] bytes)
    {
        private MemorySegment seg()
        {
            return MemorySegment.ofArray(bytes);
        }

        int type()
        {
            return length < HDR_SIZE ? -1 : seg().get(U32, HDR_TYPE);
        }

        int flags()
        {
            return seg().get(U32, HDR_FLAGS);
        }

        long fenceId()
        {
            return seg().get(U64, HDR_FENCE_ID);
        }

        int ctxId()
        {
            return seg().get(U32, HDR_CTX_ID);
        }

        int ringIdx()
        {
            return bytes[HDR_RING_IDX] & 0xFF;
        }

        int u32(final int offset)
        {
            return seg().get(U32, offset);
        }
    }

    static Req create2d(final int id, final int format, final int width, final int height)
    {
        return new Req(CMD_RESOURCE_CREATE_2D, CREATE_2D_SIZE).u32(CREATE_2D_RESOURCE_ID, id)
            .u32(CREATE_2D_FORMAT, format).u32(CREATE_2D_WIDTH, width).u32(CREATE_2D_HEIGHT, height);
    }

    static Req resourceCmd(final int type, final int id)
    {
        return new Req(type, RESOURCE_CMD_SIZE).u32(RESOURCE_ID, id);
    }

    static Req setScanout(final int scanout, final int id, final long x, final long y, final long w, final long h)
    {
        return new Req(CMD_SET_SCANOUT, SET_SCANOUT_SIZE).rect(SET_SCANOUT_RECT, x, y, w, h)
            .u32(SET_SCANOUT_SCANOUT_ID, scanout).u32(SET_SCANOUT_RESOURCE_ID, id);
    }

    static Req flush(final int id, final long x, final long y, final long w, final long h)
    {
        return new Req(CMD_RESOURCE_FLUSH, FLUSH_SIZE).rect(FLUSH_RECT, x, y, w, h).u32(FLUSH_RESOURCE_ID, id);
    }

    static Req transfer(final int id, final long x, final long y, final long w, final long h, final long offset)
    {
        return new Req(CMD_TRANSFER_TO_HOST_2D, TRANSFER_SIZE).rect(TRANSFER_RECT, x, y, w, h)
            .u64(TRANSFER_OFFSET, offset).u32(TRANSFER_RESOURCE_ID, id);
    }

    static Req getEdid(final int scanout)
    {
        return new Req(CMD_GET_EDID, GET_EDID_SIZE).u32(GET_EDID_SCANOUT, scanout);
    }

    static Req cursorCmd(final int type, final int scanout, final int x, final int y, final int id, final int hotX,
        final int hotY)
    {
        return new Req(type, CURSOR_CMD_SIZE).u32(CURSOR_SCANOUT_ID, scanout).u32(CURSOR_X, x).u32(CURSOR_Y, y)
            .u32(CURSOR_RESOURCE_ID, id).u32(CURSOR_HOT_X, hotX).u32(CURSOR_HOT_Y, hotY);
    }

    /**
     * Entries array bytes for ATTACH_BACKING / CREATE_BLOB.
     */
    static byte[] entries(final long[] gpas, final int[] lengths)
    {
        final MemorySegment s = MemorySegment.ofArray(new byte[gpas.length * MEM_ENTRY_SIZE]);
        for (int i = 0; i < gpas.length; i++)
        {
            s.set(U64, (long)i * MEM_ENTRY_SIZE, gpas[i]);
            s.set(U32, (long)i * MEM_ENTRY_SIZE + 8, lengths[i]);
        }
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    // ---- ring traffic ----

    /**
     * Adds a control chain: each of {@code parts} in its own out descriptor, then one in descriptor of
     * {@code responseBytes}. Published, not served.
     */
    int addControl(final int responseBytes, final byte[]... parts)
    {
        final int n = parts.length + (responseBytes > 0 ? 1 : 0);
        final long[] gpas = new long[n];
        final int[] lengths = new int[n];
        for (int i = 0; i < parts.length; i++)
        {
            gpas[i] = alloc(Math.max(1, parts[i].length));
            lengths[i] = parts[i].length;
            write(gpas[i], parts[i]);
        }
        long response = 0;
        if (responseBytes > 0)
        {
            response = alloc(responseBytes);
            gpas[n - 1] = response;
            lengths[n - 1] = responseBytes;
        }
        final int head = controlDriver.add(gpas, lengths, parts.length, responseBytes > 0 ? 1 : 0);
        if (head < 0)
        {
            throw new IllegalStateException("control ring full");
        }
        responseGpa[head] = response;
        responseLength[head] = responseBytes;
        controlDriver.publish();
        return head;
    }

    /**
     * Like {@link #addControl} but the whole chain in one indirect table, as Linux does.
     */
    int addControlIndirect(final int responseBytes, final byte[]... parts)
    {
        final int n = parts.length + 1;
        final long[] gpas = new long[n];
        final int[] lengths = new int[n];
        for (int i = 0; i < parts.length; i++)
        {
            gpas[i] = alloc(Math.max(1, parts[i].length));
            lengths[i] = parts[i].length;
            write(gpas[i], parts[i]);
        }
        final long response = alloc(responseBytes);
        gpas[n - 1] = response;
        lengths[n - 1] = responseBytes;
        final int head = controlDriver.addIndirect(alloc(16L * n), gpas, lengths, parts.length, 1);
        responseGpa[head] = response;
        responseLength[head] = responseBytes;
        controlDriver.publish();
        return head;
    }

    long serveControl()
    {
        return control.serve(device);
    }

    long serveCursor()
    {
        return cursor.serve(device);
    }

    /**
     * @return the next used control chain, or null.
     */
    Resp pollControl()
    {
        final long used = controlDriver.pollUsed();
        if (used == -1)
        {
            return null;
        }
        final int head = (int)(used >>> 32);
        final int length = (int)used;
        final byte[] bytes = responseLength[head] > 0 ? read(responseGpa[head], responseLength[head]) : new byte[0];
        return new Resp(head, length, bytes);
    }

    /**
     * Sends one request (parts in separate descriptors) and returns its response.
     */
    Resp call(final int responseBytes, final byte[]... parts)
    {
        addControl(responseBytes, parts);
        serveControl();
        final Resp r = pollControl();
        if (null == r)
        {
            throw new AssertionError("no response");
        }
        return r;
    }

    Resp call(final Req req)
    {
        return call(expectedResponseSize(req), req.array());
    }

    static int expectedResponseSize(final Req req)
    {
        return switch (req.bytes.get(U32, HDR_TYPE))
        {
            case CMD_GET_DISPLAY_INFO -> DISPLAY_INFO_SIZE;
            case CMD_GET_EDID -> EDID_RESP_SIZE;
            case CMD_RESOURCE_ASSIGN_UUID -> UUID_RESP_SIZE;
            default -> HDR_SIZE;
        };
    }

    /**
     * ATTACH_BACKING with the entries in their own descriptor.
     */
    Resp attach(final int id, final long[] gpas, final int[] lengths)
    {
        final byte[] head = new Req(CMD_RESOURCE_ATTACH_BACKING, ATTACH_SIZE).u32(ATTACH_RESOURCE_ID, id)
            .u32(ATTACH_NR_ENTRIES, gpas.length).array();
        return call(HDR_SIZE, head, entries(gpas, lengths));
    }

    Resp attach(final int id, final Pages pages)
    {
        return attach(id, pages.gpas, pages.lengths());
    }

    /**
     * A cursor command: one out descriptor, no response buffer (as Linux).
     */
    void cursorCall(final Req req)
    {
        final byte[] bytes = req.array();
        final long gpa = alloc(bytes.length);
        write(gpa, bytes);
        if (cursorDriver.add(new long[] {gpa}, new int[] {bytes.length}, 1, 0) < 0)
        {
            throw new IllegalStateException("cursor ring full");
        }
        cursorDriver.publish();
        serveCursor();
        if (cursorDriver.pollUsed() == -1)
        {
            throw new AssertionError("cursor command not used");
        }
    }

    int wakeCount()
    {
        synchronized (wakes)
        {
            return wakes.size();
        }
    }
}
