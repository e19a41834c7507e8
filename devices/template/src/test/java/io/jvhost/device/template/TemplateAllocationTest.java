package io.jvhost.device.template;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ECHO and COUNT allocate nothing in steady state (every device has such a test; copy this one).
 */
class TemplateAllocationTest
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
            final TemplateDevice device = new TemplateDevice("template");
            ram.set(LE32, 0x20000, TemplateDevice.OP_ECHO);
            ram.set(LE32, 0x20004, 64);
            ram.set(LE32, 0x20100, TemplateDevice.OP_COUNT);
            ram.set(LE32, 0x20104, 0);
            final long[][] gpas = {{0x20000, 0x30000}, {0x20100, 0x30100}};
            final int[][] lengths = {{8 + 64, 4 + 64}, {8, 8}};
            final int[] outs = {1, 1};
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(device.refusedRequests()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
