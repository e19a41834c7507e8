package io.jvhost.device.steady;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A device's zero-allocation test bench: 1 MiB of guest RAM, a driver ring of 64 at 0x1000 and the device's side of
 * it, and {@link #allocatedBy} to count what the test thread allocates while the device serves the same requests over
 * and over. Requests and responses live at the addresses a test chooses (0x20000 and up is free).
 */
public final class SteadyStateRing implements AutoCloseable
{
    private static final int SIZE = 64;

    private final Arena arena = Arena.ofShared();
    /** The guest RAM, at guest-physical address 0: write the requests here. */
    public final MemorySegment ram = arena.allocate(1 << 20, 4096);
    private final DriverQueue driver = new DriverQueue(ram, 0, SIZE, 0x1000);
    private final ActiveQueue queue;

    public SteadyStateRing() throws GuestMemoryException
    {
        this(0);
    }

    /**
     * A ring the device sees as its queue {@code queueIndex} (for devices whose queues differ by index).
     */
    public SteadyStateRing(final int queueIndex) throws GuestMemoryException
    {
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        final SplitQueue ring = new SplitQueue(SIZE);
        ring.setSize(SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.bind(memory);
        queue = new ActiveQueue(queueIndex, "q" + queueIndex, ring, SIZE);
    }

    /**
     * Sends the requests {@code iterations} times, each round as one batch and one {@code serve}, twice to warm up and
     * once measured. Request k is the chain of buffers {@code gpas[k]} with {@code lengths[k]}, the first
     * {@code outs[k]} device-readable.
     *
     * @return bytes the calling thread allocated in the measured round.
     * @throws AssertionError when a request is not answered in its round.
     */
    public long allocatedBy(final VirtioDevice device, final long[][] gpas, final int[][] lengths, final int[] outs,
        final int iterations)
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        if (!threads.isThreadAllocatedMemorySupported())
        {
            throw new AssertionError("this JVM cannot count a thread's allocations");
        }
        threads.setThreadAllocatedMemoryEnabled(true);
        long sink = cycles(device, gpas, lengths, outs, iterations);
        sink += cycles(device, gpas, lengths, outs, iterations);
        final long before = threads.getCurrentThreadAllocatedBytes();
        sink += cycles(device, gpas, lengths, outs, iterations);
        final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        if (sink == 0)
        {
            throw new AssertionError("no used element carried a length or id");
        }
        return allocated;
    }

    private long cycles(final VirtioDevice device, final long[][] gpas, final int[][] lengths, final int[] outs,
        final int iterations)
    {
        long sum = 0;
        for (int i = 0; i < iterations; i++)
        {
            sum += round(device, gpas, lengths, outs);
        }
        return sum;
    }

    /**
     * Sends the requests once, as one batch and one {@code serve} (see {@link #allocatedBy}).
     *
     * @return the sum of the used elements' lengths and ids.
     * @throws AssertionError when a request is not answered.
     */
    public long round(final VirtioDevice device, final long[][] gpas, final int[][] lengths, final int[] outs)
    {
        for (int k = 0; k < gpas.length; k++)
        {
            driver.add(gpas[k], lengths[k], outs[k], gpas[k].length - outs[k]);
        }
        driver.publish();
        queue.serve(device);
        long sum = 0;
        for (int k = 0; k < gpas.length; k++)
        {
            final long used = driver.pollUsed();
            if (used == -1L)
            {
                throw new AssertionError("request " + k + " was not answered");
            }
            sum += used;
        }
        return sum;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
