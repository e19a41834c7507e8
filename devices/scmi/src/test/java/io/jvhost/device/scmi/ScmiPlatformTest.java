package io.jvhost.device.scmi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ScmiPlatform} without a transport: paging of descriptions as Linux's loops read them, and a platform with no
 * sensors.
 */
class ScmiPlatformTest
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static int command(final ScmiPlatform p, final int protocol, final int message, final int room,
        final int... params)
    {
        final MemorySegment r = p.request();
        r.set(LE32, 0, message | protocol << 10);
        for (int i = 0; i < params.length; i++)
        {
            r.set(LE32, 4 + 4L * i, params[i]);
        }
        return p.handle(4 + 4 * params.length, room);
    }

    private static int word(final ScmiPlatform p, final int offset)
    {
        return p.response().get(LE32, offset);
    }

    @Test
    void tenSensorsArePagedFourAtATimeIntoLinuxs136ByteBuffers()
    {
        final List<ScmiSensor> sensors = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            sensors.add(new FakeSensor("s" + i, FakeSensor.Kind.THERMOMETER));
        }
        final ScmiPlatform p = new ScmiPlatform("t", sensors);
        int index = 0;
        final List<Integer> pages = new ArrayList<>();
        while (true)
        {
            final int size = command(p, ScmiPlatform.SENSOR, ScmiPlatform.SENSOR_DESCRIPTION_GET, 136, index);
            assertThat(word(p, 4)).as("status").isZero();
            final int returned = word(p, 8) & 0xFFFF;
            final int remaining = word(p, 8) >>> 16;
            assertThat(size).isEqualTo(12 + 28 * returned).isLessThanOrEqualTo(136);
            for (int i = 0; i < returned; i++)
            {
                assertThat(word(p, 12 + 28 * i)).as("sensor id").isEqualTo(index + i);
            }
            pages.add(returned);
            index += returned;
            assertThat(remaining).isEqualTo(10 - index);
            if (remaining == 0)
            {
                break;
            }
        }
        assertThat(pages).containsExactly(4, 4, 2);
        assertThat(p.refusedMessages()).isZero();
    }

    @Test
    void withoutSensorsTheDescriptionIsEmptyAndEveryIdIsNotFound()
    {
        final ScmiPlatform p = new ScmiPlatform("t", List.of());
        assertThat(command(p, ScmiPlatform.SENSOR, ScmiPlatform.PROTOCOL_ATTRIBUTES, 136)).isEqualTo(24);
        assertThat(word(p, 8)).isZero();
        assertThat(command(p, ScmiPlatform.SENSOR, ScmiPlatform.SENSOR_DESCRIPTION_GET, 136, 0)).isEqualTo(12);
        assertThat(word(p, 8)).as("0 returned, 0 remaining").isZero();
        command(p, ScmiPlatform.SENSOR, ScmiPlatform.SENSOR_READING_GET, 136, 0, 0);
        assertThat(word(p, 4)).isEqualTo(ScmiPlatform.NOT_FOUND);
    }

    @Test
    void axisDescriptionsArePagedWithTheRemainingCountInTheTopBits()
    {
        final ScmiPlatform p = new ScmiPlatform("t", List.of(new FakeSensor("a", FakeSensor.Kind.ACCELEROMETER)));
        assertThat(command(p, ScmiPlatform.SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 12 + 2 * 28 + 5, 0, 0))
            .isEqualTo(12 + 2 * 28);
        assertThat(word(p, 8)).as("2 returned, 1 remaining").isEqualTo(2 | 1 << 26);
        assertThat(command(p, ScmiPlatform.SENSOR, ScmiPlatform.SENSOR_AXIS_DESCRIPTION_GET, 136, 0, 2))
            .isEqualTo(12 + 28);
        assertThat(word(p, 8)).isEqualTo(1);
        assertThat(word(p, 12)).as("axis id").isEqualTo(2);
    }
}
