package io.jvhost.device.rtc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * READ of each clock and CLOCK_CAP allocate nothing in steady state.
 */
class RtcAllocationTest
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
            final RtcDevice device = new RtcDevice("rtc", List.of(RtcClock.utc(), RtcClock.tai(), RtcClock.monotonic()), true);
            device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
            for (int c = 0; c < 3; c++)
            {
                ram.set(LE16, 0x20000 + c * 0x100, (short)RtcDevice.REQ_READ);
                ram.set(LE16, 0x20000 + c * 0x100 + 8, (short)c);
            }
            ram.set(LE16, 0x20400, (short)RtcDevice.REQ_CLOCK_CAP);
            final long[][] gpas = {{0x20000, 0x30000}, {0x20100, 0x30100}, {0x20200, 0x30200}, {0x20400, 0x30400}};
            final int[][] lengths = {{16, 16}, {16, 16}, {16, 16}, {16, 16}};
            final int[] outs = {1, 1, 1, 1};
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(device.refusedRequests()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
