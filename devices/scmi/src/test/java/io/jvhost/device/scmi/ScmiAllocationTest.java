package io.jvhost.device.scmi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * READING_GET of the fake accelerometer, the fake thermometer and an IIO channel (a file read and parsed at each
 * command), SENSOR_DESCRIPTION_GET and CONFIG_GET allocate nothing in steady state. (A refusal builds nothing either,
 * but every thousandth is logged, and a log line allocates.)
 */
class ScmiAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    @Test
    void steadyStateCommandsAllocateNothing() throws Exception
    {
        Files.writeString(dir.resolve("in_voltage0_raw"), "1234\n");
        Files.writeString(dir.resolve("in_voltage_raw"), "1234\n");
        Files.writeString(dir.resolve("in_voltage_scale"), "0.25\n");
        final ScmiDevice device = new ScmiDevice("scmi", List.of(new FakeSensor("a", FakeSensor.Kind.ACCELEROMETER),
            new FakeSensor("t", FakeSensor.Kind.THERMOMETER), IioSensor.open(dir, "in_voltage", "v")));
        try (SteadyStateRing bench = new SteadyStateRing())
        {
            final MemorySegment ram = bench.ram;
            device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            for (int s = 0; s < 3; s++)
            {
                ram.set(LE32, 0x20000 + s * 0x100, ScmiPlatform.SENSOR_READING_GET | ScmiPlatform.SENSOR << 10);
                ram.set(LE32, 0x20000 + s * 0x100 + 4, s);
            }
            ram.set(LE32, 0x20400, ScmiPlatform.SENSOR_DESCRIPTION_GET | ScmiPlatform.SENSOR << 10);
            ram.set(LE32, 0x20500, ScmiPlatform.SENSOR_CONFIG_GET | ScmiPlatform.SENSOR << 10);
            ram.set(LE32, 0x20504, 2);
            final long[][] gpas = {{0x20000, 0x30000}, {0x20100, 0x30100}, {0x20200, 0x30200}, {0x20400, 0x30400},
                {0x20500, 0x30500}};
            final int[][] lengths = {{12, 136}, {12, 136}, {12, 136}, {8, 136}, {8, 136}};
            final int[] outs = {1, 1, 1, 1, 1};
            final long allocated = bench.allocatedBy(device, gpas, lengths, outs, ITERATIONS);
            assertThat(ram.get(LE32, 0x30204)).as("the IIO reading's status").isZero();
            assertThat(ram.get(LE32, 0x30208)).as("1234 × 0.25 = 308.5: 3085 × 10^-1 V").isEqualTo(3085);
            assertThat(ram.get(LE32, 0x30508)).as("CONFIG_GET: enabled").isEqualTo(1);
            assertThat(device.refusedMessages()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
        finally
        {
            device.close();
        }
    }
}
