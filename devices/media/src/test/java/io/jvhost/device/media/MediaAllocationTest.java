package io.jvhost.device.media;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The capture hot path allocates nothing in steady state: QBUF of a guest buffer while streaming, the frame written
 * into it, and its DQBUF event on the eventq; for the test pattern and for the v4l2 proxy in front of a fake node
 * (whose held buffers also keep their guest memory). Two rings (commandq and eventq) in 8 MiB of guest RAM, served on
 * the test thread whose allocations are counted.
 */
class MediaAllocationTest
{
    private static final int ITERATIONS = 2_000;
    private static final int SIZE = 64;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int WIDTH = 64;
    private static final int HEIGHT = 48;
    private static final int FRAME = WIDTH * HEIGHT * 2;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment ram = arena.allocate(8 << 20, 4096);
    private final DriverQueue commands = new DriverQueue(ram, 0, SIZE, 0x1000);
    private final DriverQueue events = new DriverQueue(ram, 0, SIZE, 0x4000);
    private ActiveQueue commandq;
    private ActiveQueue eventq;
    private MediaDevice device;

    private static ActiveQueue active(final int index, final DriverQueue driver, final GuestMemory memory)
        throws Exception
    {
        final SplitQueue ring = new SplitQueue(SIZE);
        ring.setSize(SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.bind(memory);
        return new ActiveQueue(index, "q" + index, ring, SIZE);
    }

    /**
     * Sends the command at {@code in} (readable {@code inLength}) with an answer buffer at {@code out}.
     *
     * @return the answer's status.
     */
    private int command(final long in, final int inLength, final long out, final int outLength)
    {
        commands.add(new long[] {in, out}, new int[] {inLength, outLength}, 1, 1);
        commands.publish();
        commandq.serve(device);
        if (commands.pollUsed() == -1L)
        {
            throw new AssertionError("command not answered");
        }
        return ram.get(LE32, out);
    }

    private void ioctlHeader(final long at, final int session, final int code)
    {
        ram.set(LE32, at, MediaDevice.CMD_IOCTL);
        ram.set(LE32, at + 4, 0);
        ram.set(LE32, at + 8, session);
        ram.set(LE32, at + 12, code);
    }

    @Test
    void queueingCapturingAndDequeueingAllocateNothing() throws Exception
    {
        run(new TestPatternCapture(), null, () -> { }, TestPatternCapture.patternByte(V4l2.PIX_FMT_YUYV,
            5 * ITERATIONS - 1, (1000 + 10) / (WIDTH * 2), (1000 + 10) % (WIDTH * 2)));
    }

    /**
     * The proxy's path: QBUF to the host node, the host's frame, the watch's callback (DQBUF from the host, the copy
     * into the guest's pages) and the DQBUF event; the fake node's sensor runs on the same thread.
     */
    @Test
    void theProxysQueueDequeueAndCopyAllocateNothing() throws Exception
    {
        final FakeCaptureNode fake = new FakeCaptureNode();
        final Runnable[] watched = new Runnable[1];
        final DeviceContext context = watchingContext(watched);
        final Runnable frame = () ->
        {
            if (!fake.frame())
            {
                throw new AssertionError("the host had no queued buffer");
            }
            watched[0].run();
        };
        run(new V4l2Proxy(fake), context, frame, FakeCaptureNode.patternByte(5 * ITERATIONS - 1, 1000 + 10));
        assertThat(fake.dequeues()).isEqualTo(5 * ITERATIONS);
    }

    /**
     * Opens a session, sets 64x48 YUYV, requests 2 USERPTR buffers and streams.
     *
     * @return where the QBUF command of buffer 0 (two SG entries: 0x100000 and 0x200000) is.
     */
    private long startStreaming(final MediaBackend backend, final DeviceContext context, final GuestMemory memory)
        throws Exception
    {
        commandq = active(0, commands, memory);
        eventq = active(1, events, memory);
        device = new MediaDevice("media", backend);
        device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        if (null != context)
        {
            device.attach(context);
        }

        final long cmd = 0x10000;
        final long out = 0x11000;
        ram.set(LE32, cmd, MediaDevice.CMD_OPEN);
        assertThat(command(cmd, 8, out, 16)).isZero();
        final int session = ram.get(LE32, out + 8);

        ioctlHeader(cmd, session, V4l2.S_FMT);
        ram.asSlice(cmd + 16, 208).fill((byte)0);
        ram.set(LE32, cmd + 16, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        ram.set(LE32, cmd + 24, WIDTH);
        ram.set(LE32, cmd + 28, HEIGHT);
        ram.set(LE32, cmd + 32, V4l2.PIX_FMT_YUYV);
        assertThat(command(cmd, 16 + 208, out, 8 + 208)).isZero();
        assertThat(ram.get(LE32, out + 8 + 28)).as("sizeimage").isEqualTo(FRAME);

        ioctlHeader(cmd, session, V4l2.REQBUFS);
        ram.set(LE32, cmd + 16, 2);
        ram.set(LE32, cmd + 20, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        ram.set(LE32, cmd + 24, V4l2.MEMORY_USERPTR);
        assertThat(command(cmd, 16 + 20, out, 8 + 20)).isZero();

        ioctlHeader(cmd, session, V4l2.STREAMON);
        ram.set(LE32, cmd + 16, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        assertThat(command(cmd, 20, out, 8)).isZero();

        // QBUF of buffer 0: v4l2_buffer and two SG entries (the frame in two pieces).
        final long qbuf = 0x12000;
        ioctlHeader(qbuf, session, V4l2.QBUF);
        ram.asSlice(qbuf + 16, 88).fill((byte)0);
        ram.set(LE32, qbuf + 16 + 4, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        ram.set(LE32, qbuf + 16 + 60, V4l2.MEMORY_USERPTR);
        ram.set(LE32, qbuf + 16 + 72, FRAME);
        ram.set(LE64, qbuf + 104, 0x100000);
        ram.set(LE32, qbuf + 112, 1000);
        ram.set(LE64, qbuf + 120, 0x200000);
        ram.set(LE32, qbuf + 128, FRAME - 1000);
        return qbuf;
    }

    /**
     * @return a context whose watch keeps the callback in {@code watched[0]} (the test runs it as the worker would).
     */
    private static DeviceContext watchingContext(final Runnable[] watched)
    {
        return new DeviceContext()
        {
            @Override
            public void wake(final int queue)
            {
            }

            @Override
            public FdWatch watch(final int queue, final int fd, final Runnable onReadable)
            {
                assertThat(queue).as("watched on the eventq's worker").isEqualTo(MediaDevice.EVENT_QUEUE);
                watched[0] = onReadable;
                return () -> watched[0] = null;
            }
        };
    }

    /**
     * A buffer the host holds keeps a reference to the guest memory it was queued with: the transport dropping its
     * own (a new memory table) does not free the pages before the frame is copied; the copy drops the last one.
     */
    @Test
    void aBufferTheHostHoldsKeepsItsGuestMemory() throws Exception
    {
        final FakeCaptureNode fake = new FakeCaptureNode();
        final Runnable[] watched = new Runnable[1];
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        final long qbuf = startStreaming(new V4l2Proxy(fake), watchingContext(watched), memory);
        final long out = 0x11000;
        assertThat(command(qbuf, 16 + 88 + 32, out, 8 + 88)).as("QBUF").isZero();
        memory.release();
        assertThat(memory.tryRetain()).as("the snapshot, after the transport dropped it").isTrue();
        memory.release();
        assertThat(fake.frame()).isTrue();
        watched[0].run();
        assertThat(fake.dequeues()).isOne();
        assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x200000 + 10) & 0xFF).as("the frame, copied")
            .isEqualTo(FakeCaptureNode.patternByte(0, 1000 + 10));
        assertThat(memory.tryRetain()).as("the snapshot once the frame is copied").isFalse();
        arena.close();
    }

    private void run(final MediaBackend backend, final DeviceContext context, final Runnable frame,
        final int lastByte) throws Exception
    {
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        final long out = 0x11000;
        final long qbuf = startStreaming(backend, context, memory);
        final long event = 0x13000;

        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        long sequences = cycles(qbuf, out, event, ITERATIONS, frame);
        sequences += cycles(qbuf, out, event, ITERATIONS, frame);
        // The least of three measured rounds: a per-frame allocation shows in each (2,000 frames, 16 bytes or more
        // each), while the JVM's own one-off allocations on a loaded machine (about 1 KiB now and then) do not.
        long allocated = Long.MAX_VALUE;
        for (int round = 0; round < 3; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            sequences += cycles(qbuf, out, event, ITERATIONS, frame);
            allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
        }

        assertThat(sequences).as("the sum of 5 x %d sequence numbers", ITERATIONS)
            .isEqualTo((long)(5 * ITERATIONS) * (5 * ITERATIONS - 1) / 2);
        assertThat(device.refusedCommands()).isZero();
        assertThat(device.eventsSent()).isEqualTo(5 * ITERATIONS);
        assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x200000 + 10) & 0xFF)
            .as("the last frame's pattern, in the second piece")
            .isEqualTo(lastByte);
        assertThat(allocated).as("bytes allocated by %d frames", ITERATIONS).isLessThan(1024);
        device.close();
        arena.close();
    }

    /**
     * @return the sum of the sequence numbers of the dequeued frames.
     */
    private long cycles(final long qbuf, final long out, final long event, final int iterations,
        final Runnable frame)
    {
        long sum = 0;
        final long[] qbufGpas = {qbuf, out};
        final int[] qbufLengths = {16 + 88 + 32, 8 + 88};
        final long[] eventGpas = {event};
        final int[] eventLengths = {MediaDevice.DQBUF_EVENT_SIZE};
        for (int i = 0; i < iterations; i++)
        {
            events.add(eventGpas, eventLengths, 0, 1);
            events.publish();
            commands.add(qbufGpas, qbufLengths, 1, 1);
            commands.publish();
            commandq.serve(device);
            if (commands.pollUsed() == -1L || ram.get(LE32, out) != 0)
            {
                throw new AssertionError("QBUF " + i + " failed: " + ram.get(LE32, out));
            }
            frame.run();
            eventq.serve(device);
            if (events.pollUsed() == -1L)
            {
                throw new AssertionError("no DQBUF event for frame " + i);
            }
            sum += ram.get(LE32, event + 8 + 56);
        }
        return sum;
    }
}
