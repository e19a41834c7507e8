package io.jvhost.benchmarks;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A driver ring and the device ring over the same in-process guest memory: the device's hot path without sockets or
 * threads in the way.
 */
final class RingFixture
{
    static final long RAM_SIZE = 64L << 20;
    static final long DATA_BASE = 1L << 20;

    final Arena arena = Arena.ofShared();
    final MemorySegment ram = arena.allocate(RAM_SIZE, 4096);
    final GuestMemory memory;
    final DriverQueue driver;
    final SplitQueue device;

    RingFixture(final int queueSize, final boolean eventIdx) throws GuestMemoryException
    {
        memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x7f00_0000_0000L)), 8);
        driver = new DriverQueue(ram, 0, queueSize, 4096);
        driver.setEventIdx(eventIdx);
        device = new SplitQueue(queueSize);
        device.setSize(queueSize);
        device.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);
        if (eventIdx)
        {
            features |= VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        }
        device.setFeatures(features);
        device.bind(memory);
    }

    void close()
    {
        arena.close();
    }
}
