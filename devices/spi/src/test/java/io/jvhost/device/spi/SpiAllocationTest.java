package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.steady.SteadyStateRing;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A full-duplex loopback transfer, an EEPROM write and a half-duplex EEPROM read allocate nothing in steady state.
 */
class SpiAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static void head(final MemorySegment ram, final long at, final int cs)
    {
        ram.set(ValueLayout.JAVA_BYTE, at, (byte)cs);
        ram.set(ValueLayout.JAVA_BYTE, at + 1, (byte)8);
        ram.set(LE32, at + 12, 1_000_000);
    }

    @Test
    void steadyStateTransfersAllocateNothing() throws Exception
    {
        try (SteadyStateRing bench = new SteadyStateRing())
        {
            final MemorySegment ram = bench.ram;
            final SpiDevice device = new SpiDevice("spi", ControllerSpec.open("sim:loopback:eeprom"));
            head(ram, 0x20000, 0);
            ram.asSlice(0x20100, 64).fill((byte)0x5A);
            head(ram, 0x20200, 1);
            ram.set(ValueLayout.JAVA_BYTE, 0x20300, (byte)SimulatedEeprom.WRITE);
            ram.set(ValueLayout.JAVA_BYTE, 0x20301, (byte)0x10);
            head(ram, 0x20400, 1);
            final long[][] gpas = {
                {0x20000, 0x20100, 0x30000, 0x31000},
                {0x20200, 0x20300, 0x31100},
                {0x20400, 0x30200, 0x31200},
            };
            final int[][] lengths = {{32, 64, 64, 1}, {32, 10, 1}, {32, 16, 1}};
            final int[] outs = {2, 2, 1};
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(device.failedTransfers()).isZero();
            assertThat(device.refusedRequests()).isZero();
            assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x31000)).isEqualTo((byte)SpiDevice.TRANS_OK);
            assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x30000 + 63)).as("looped back").isEqualTo((byte)0x5A);
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }

    @Test
    void refusedTransfersAllocateNothingBetweenTheirLogLines() throws Exception
    {
        try (SteadyStateRing bench = new SteadyStateRing())
        {
            final MemorySegment ram = bench.ram;
            head(ram, 0x20000, 7);
            head(ram, 0x20200, 0);
            ram.set(ValueLayout.JAVA_BYTE, 0x20201, (byte)12);
            final long[][] gpas = {{0x20000, 0x20100, 0x30000, 0x31000}, {0x20200, 0x30200, 0x31200}, {0x20400}};
            final int[][] lengths = {{32, 8, 8, 1}, {32, 16, 1}, {32}};
            final int[] outs = {2, 1, 1};
            // Warm the refusal path up (compiled as in a long run) on one device, which logs every thousandth.
            bench.allocatedBy(new SpiDevice("warm-up", ControllerSpec.open("sim:loopback")), gpas, lengths, outs, 5000);
            // Then measure a fresh one: three refusals an iteration, 999 in all, of which 667..999 are measured: no
            // thousandth among them, so no log line.
            final SpiDevice device = new SpiDevice("spi", ControllerSpec.open("sim:loopback"));
            final int iterations = 111;
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, iterations);
            assertThat(device.refusedRequests()).as("chip select 7, 12-bit words, no result byte")
                .isEqualTo(3L * 3 * iterations);
            assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x31000)).isEqualTo((byte)SpiDevice.PARAM_ERR);
            assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x31200)).isEqualTo((byte)SpiDevice.PARAM_ERR);
            assertThat(allocated).as("bytes allocated by %d iterations", iterations).isLessThan(1024);
        }
    }
}
