package io.jvhost.device.vsock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * The guest's side of a {@link VsockDevice} on mock rings: builds tx packets, posts rx and event buffers, parses
 * what the device returns. Host events are delivered by calling {@link VsockDevice#hostReady()} (the watch the device
 * asks for is recorded, not run), so every step is deterministic.
 */
final class MockGuest implements AutoCloseable
{
    static final int SIZE = 256;
    static final int RX_BUFFER = 4096;
    private static final long TX_DATA = 0x100000;
    private static final long RX_DATA = 0x1000000;
    private static final long EVENT_DATA = 0x2000000;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** A packet the device put in an rx buffer. */
    record Packet(long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op, int flags,
        int bufAlloc, int fwdCnt, byte[] payload, int usedLength)
    {
        @Override
        public String toString()
        {
            return VsockHeader.opName(op) + " " + srcCid + ":" + Integer.toUnsignedString(srcPort) + "->" + dstCid + ":"
                + Integer.toUnsignedString(dstPort) + " len=" + len + " flags=" + flags + " buf_alloc=" + bufAlloc
                + " fwd_cnt=" + fwdCnt;
        }
    }

    final Arena arena = Arena.ofShared();
    final MemorySegment ram;
    final DriverQueue[] driver = new DriverQueue[3];
    final ActiveQueue[] queue = new ActiveQueue[3];
    final VsockDevice device;
    final long cid;
    int watches;
    int wakes;
    private final long[] rxGpa = new long[SIZE];
    private int rxPosted;
    private int rxSlot;
    private int txSlot;

    MockGuest(final VsockDevice device) throws io.jvhost.memory.GuestMemoryException
    {
        this.device = device;
        this.cid = device.guestCid();
        ram = arena.allocate(64 << 20, 4096);
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x7000_0000L)), 8);
        for (int q = 0; q < 3; q++)
        {
            driver[q] = new DriverQueue(ram, 0, SIZE, 0x1000 + q * 0x8000L);
            final SplitQueue ring = new SplitQueue(VsockDevice.DEFAULT_QUEUE_SIZE);
            ring.setSize(SIZE);
            ring.setGuestPhysAddresses(driver[q].descGpa(), driver[q].availGpa(), driver[q].usedGpa());
            ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            ring.bind(memory);
            queue[q] = new ActiveQueue(q, "vsock q" + q, ring, SIZE);
        }
        device.attach(new DeviceContext()
        {
            @Override
            public void wake(final int q)
            {
                wakes++;
            }

            @Override
            public FdWatch watch(final int q, final int fd, final Runnable onReadable)
            {
                watches++;
                return () ->
                {
                };
            }
        });
        device.featuresAcked(device.features());
        for (int q = 0; q < 3; q++)
        {
            device.queueStarted(q);
        }
    }

    /**
     * Sends one packet with every field chosen, the payload in the same buffer.
     */
    void sendRaw(final long srcCid, final long dstCid, final int srcPort, final int dstPort, final int type,
        final int op, final int lenField, final int flags, final int bufAlloc, final int fwdCnt, final byte[] payload,
        final int bufferLength)
    {
        final long gpa = TX_DATA + (txSlot++ % SIZE) * 0x11000L;
        ram.set(U64, gpa, srcCid);
        ram.set(U64, gpa + 8, dstCid);
        ram.set(U32, gpa + 16, srcPort);
        ram.set(U32, gpa + 20, dstPort);
        ram.set(U32, gpa + 24, lenField);
        ram.set(U16, gpa + 28, (short)type);
        ram.set(U16, gpa + 30, (short)op);
        ram.set(U32, gpa + 32, flags);
        ram.set(U32, gpa + 36, bufAlloc);
        ram.set(U32, gpa + 40, fwdCnt);
        MemorySegment.copy(payload, 0, ram, ValueLayout.JAVA_BYTE, gpa + 44, payload.length);
        driver[1].add(new long[] {gpa}, new int[] {bufferLength}, 1, 0);
        driver[1].publish();
        queue[1].serve(device);
        while (driver[1].pollUsed() != -1)
        {
            // Transmit buffers come back unwritten.
        }
    }

    void send(final int srcPort, final int dstPort, final int op, final int flags, final int bufAlloc,
        final int fwdCnt, final byte[] payload)
    {
        sendRaw(cid, VsockDevice.HOST_CID, srcPort, dstPort, VsockHeader.TYPE_STREAM, op, payload.length, flags,
            bufAlloc, fwdCnt, payload, 44 + payload.length);
    }

    /** A packet to another guest's CID (a sibling VM). */
    void sendTo(final long dstCid, final int srcPort, final int dstPort, final int op, final int flags,
        final int bufAlloc, final int fwdCnt, final byte[] payload)
    {
        sendRaw(cid, dstCid, srcPort, dstPort, VsockHeader.TYPE_STREAM, op, payload.length, flags, bufAlloc, fwdCnt,
            payload, 44 + payload.length);
    }

    void send(final int srcPort, final int dstPort, final int op, final int bufAlloc, final int fwdCnt)
    {
        send(srcPort, dstPort, op, 0, bufAlloc, fwdCnt, new byte[0]);
    }

    /**
     * Keeps {@code count} rx buffers of 44 + {@link #RX_BUFFER} bytes posted.
     */
    void postRx(final int count)
    {
        while (rxPosted < count)
        {
            final long gpa = RX_DATA + (rxSlot++ % SIZE) * 0x2000L;
            final int head = driver[0].add(new long[] {gpa}, new int[] {44 + RX_BUFFER}, 0, 1);
            rxGpa[head] = gpa;
            rxPosted++;
        }
        driver[0].publish();
    }

    /**
     * Host events, then the rx queue: returns every packet the device delivered (reposting the buffers it used).
     */
    List<Packet> receive(final int buffers)
    {
        device.hostReady();
        postRx(buffers);
        queue[0].serve(device);
        final List<Packet> packets = new ArrayList<>();
        long used;
        while ((used = driver[0].pollUsed()) != -1)
        {
            final int head = (int)(used >>> 32);
            final int length = (int)used;
            rxPosted--;
            final long gpa = rxGpa[head];
            packets.add(new Packet(ram.get(U64, gpa), ram.get(U64, gpa + 8), ram.get(U32, gpa + 16),
                ram.get(U32, gpa + 20), ram.get(U32, gpa + 24), ram.get(U16, gpa + 28), ram.get(U16, gpa + 30),
                ram.get(U32, gpa + 32), ram.get(U32, gpa + 36), ram.get(U32, gpa + 40),
                ram.asSlice(gpa + 44, Math.max(0, length - 44)).toArray(ValueLayout.JAVA_BYTE), length));
        }
        postRx(buffers);
        return packets;
    }

    List<Packet> receive()
    {
        return receive(16);
    }

    /**
     * Posts one event buffer and serves the event queue.
     *
     * @return the event id written, or -1 when the buffer was not used.
     */
    int event()
    {
        driver[2].add(new long[] {EVENT_DATA}, new int[] {4}, 0, 1);
        driver[2].publish();
        queue[2].serve(device);
        final long used = driver[2].pollUsed();
        return used == -1 ? -1 : ram.get(U32, EVENT_DATA);
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
