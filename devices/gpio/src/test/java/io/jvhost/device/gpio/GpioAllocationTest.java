package io.jvhost.device.gpio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SET_VALUE, GET_VALUE and GET_DIRECTION allocate nothing in steady state.
 */
class GpioAllocationTest
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
            final SimulatedGpioChip chip = new SimulatedGpioChip(8);
            final GpioDevice device = new GpioDevice("gpio", chip);
            final int[] types = {GpioDevice.MSG_SET_VALUE, GpioDevice.MSG_GET_VALUE, GpioDevice.MSG_GET_DIRECTION};
            for (int k = 0; k < 3; k++)
            {
                ram.set(LE16, 0x20000 + k * 0x100, (short)types[k]);
                ram.set(LE16, 0x20000 + k * 0x100 + 2, (short)3);
                ram.set(LE32, 0x20000 + k * 0x100 + 4, 1);
            }
            final long[][] gpas = {{0x20000, 0x30000}, {0x20100, 0x30100}, {0x20200, 0x30200}};
            final int[][] lengths = {{8, 2}, {8, 2}, {8, 2}};
            final int[] outs = {1, 1, 1};
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(device.refusedRequests()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
