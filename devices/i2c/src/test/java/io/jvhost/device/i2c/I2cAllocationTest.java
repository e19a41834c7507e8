package io.jvhost.device.i2c;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An EEPROM read (a write and a read, one transfer) and a sensor write allocate nothing in steady state.
 */
class I2cAllocationTest
{
    private static final int SIZE = 64;
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static long cycles(final DriverQueue driver, final ActiveQueue queue,
        final io.jvhost.device.VirtioDevice device, final long[][] gpas, final int[][] lengths, final int[] outs)
    {
        long sum = 0;
        for (int i = 0; i < ITERATIONS; i++)
        {
            for (int k = 0; k < gpas.length; k++)
            {
                driver.add(gpas[k], lengths[k], outs[k], gpas[k].length - outs[k]);
            }
            driver.publish();
            queue.serve(device);
            for (int k = 0; k < gpas.length; k++)
            {
                final long used = driver.pollUsed();
                if (used == -1L)
                {
                    throw new AssertionError("request " + k + " was not answered");
                }
                sum += used;
            }
        }
        return sum;
    }

    @Test
    void steadyStateRequestsAllocateNothing() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);
        try (Arena arena = Arena.ofShared())
        {
            final MemorySegment ram = arena.allocate(1 << 20, 4096);
            final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
            final DriverQueue driver = new DriverQueue(ram, 0, SIZE, 0x1000);
            final SplitQueue ring = new SplitQueue(SIZE);
            ring.setSize(SIZE);
            ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
            ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            ring.bind(memory);
            final ActiveQueue queue = new ActiveQueue(0, "q0", ring, SIZE);
            final I2cBus bus = DeviceList.open(DeviceList.parse("sim:0x50=eeprom:0x48=lm75"));
            final I2cDevice device = new I2cDevice("i2c", bus);
            ram.set(LE16, 0x20000, (short)(0x50 << 1));
            ram.set(LE32, 0x20004, 1);
            ram.set(ValueLayout.JAVA_BYTE, 0x20100, (byte)0x10);
            ram.set(LE16, 0x20200, (short)(0x50 << 1));
            ram.set(LE32, 0x20204, 2);
            ram.set(LE16, 0x20400, (short)(0x48 << 1));
            ram.set(LE32, 0x20404, 0);
            ram.set(ValueLayout.JAVA_BYTE, 0x20500, (byte)0x01);
            ram.set(ValueLayout.JAVA_BYTE, 0x20501, (byte)0x18);
            final long[][] gpas = {{0x20000, 0x20100, 0x30000}, {0x20200, 0x31000, 0x30100}, {0x20400, 0x20500, 0x30200}};
            final int[][] lengths = {{8, 1, 1}, {8, 16, 1}, {8, 2, 1}};
            final int[] outs = {2, 1, 2};
            long sink = cycles(driver, queue, device, gpas, lengths, outs);
            sink += cycles(driver, queue, device, gpas, lengths, outs);
            final long before = threads.getCurrentThreadAllocatedBytes();
            sink += cycles(driver, queue, device, gpas, lengths, outs);
            final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertThat(sink).isPositive();
            assertThat(device.failedTransfers()).isZero();
            assertThat(device.refusedRequests()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
