package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An EEPROM read (a write and a read, one transfer) and a sensor write allocate nothing in steady state.
 */
class I2cAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void steadyStateRequestsAllocateNothing() throws Exception
    {
        try (SteadyStateRing bench = new SteadyStateRing())
        {
            final MemorySegment ram = bench.ram;
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
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(device.failedTransfers()).isZero();
            assertThat(device.refusedRequests()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
