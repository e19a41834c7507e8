package io.jvhost.device.scmi;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code -d} specifications as vhost-device-scmi reads them, and IIO sensors against fake sysfs folders.
 */
class SensorSpecTest
{
    @TempDir
    Path dir;

    @Test
    void fakeIsVhostDeviceScmisThreeAxisAccelerometerNamedFake() throws Exception
    {
        final ScmiSensor s = SensorSpec.parse("fake");
        assertThat(s.name()).isEqualTo("fake");
        assertThat(s.axes()).isEqualTo(3);
        assertThat(s.unit()).isEqualTo(ScmiSensor.UNIT_METERS_PER_SECOND_SQUARED);
        final long[] v = new long[3];
        assertThat(s.read(v)).isTrue();
        assertThat(v).containsExactly(0, 100, 200);
        assertThat(s.read(v)).isTrue();
        assertThat(v).containsExactly(1, 101, 201);
        for (int i = 2; i < 256; i++)
        {
            s.read(v);
        }
        s.read(v);
        assertThat(v[0]).as("wraps at 256").isZero();

        final ScmiSensor t = SensorSpec.parse("fake,name=jvtemp,kind=thermometer");
        assertThat(t.name()).isEqualTo("jvtemp");
        assertThat(t.axes()).isZero();
        assertThat(t.unit()).isEqualTo(ScmiSensor.UNIT_DEGREES_C);
    }

    @Test
    void wrongSpecificationsNameWhatIsWrong()
    {
        assertThatThrownBy(() -> SensorSpec.parse("fake,name=sixteen-chars-xx")).hasMessageContaining("at most 15");
        assertThatThrownBy(() -> SensorSpec.parse("fake,name=a,name=b")).hasMessageContaining("'name' is given twice");
        assertThatThrownBy(() -> SensorSpec.parse("fake,kind=gyroscope"))
            .hasMessageContaining("kind 'gyroscope' is neither");
        assertThatThrownBy(() -> SensorSpec.parse("fake,name")).hasMessageContaining("is not NAME=VALUE");
        assertThatThrownBy(() -> SensorSpec.parse("iio,channel=in_accel,foo=1,bar=2"))
            .hasMessageContaining("missing device parameters: path");
        assertThatThrownBy(() -> SensorSpec.parse("iio,path=/x,channel=in_accel,foo=1,bar=2"))
            .hasMessageContaining("unexpected device parameters: bar, foo");
        assertThatThrownBy(() -> SensorSpec.parse("iio,path=" + dir.resolve("none") + ",channel=in_accel"))
            .hasMessageContaining("does not exist (ENOENT)");
        assertThatThrownBy(() -> SensorSpec.parse("iio,path=" + dir + ",channel=in_accel"))
            .hasMessageContaining("no in_accel channel");
    }

    @Test
    void anIioAccelerometerHasOneAxisPerRawFileScaledToAnIntegerAndAnExponent() throws Exception
    {
        Files.writeString(dir.resolve("name"), "accel_3d\n");
        Files.writeString(dir.resolve("in_accel_x_raw"), "100\n");
        Files.writeString(dir.resolve("in_accel_y_raw"), "-200\n");
        Files.writeString(dir.resolve("in_accel_z_raw"), "300\n");
        Files.writeString(dir.resolve("in_accel_scale"), "0.009806650\n");
        Files.writeString(dir.resolve("in_accel_z_offset"), "10\n");
        Files.writeString(dir.resolve("in_anglvel_x_raw"), "1\n");
        Files.writeString(dir.resolve("in_accel_xy_raw"), "7\n");
        final ScmiSensor s = SensorSpec.parse("iio,path=" + dir + ",channel=in_accel");
        try
        {
            assertThat(s.name()).as("from the name file").isEqualTo("accel_3d");
            assertThat(s.axes()).as("x, y, z; not xy, not anglvel").isEqualTo(3);
            assertThat(s.exponent(0)).as("floor(log10(0.0098)) = -3").isEqualTo(-3);
            final long[] v = new long[3];
            assertThat(s.read(v)).isTrue();
            assertThat(v).as("raw × 0.00980665 / 10^-3, rounded").containsExactly(981, -1961, 3040);
            Files.writeString(dir.resolve("in_accel_x_raw"), "garbage\n");
            assertThat(s.read(v)).as("not an integer").isFalse();
        }
        finally
        {
            s.close();
        }
    }

    @Test
    void anIioTemperatureIsScalarInMillidegrees() throws Exception
    {
        Files.writeString(dir.resolve("in_temp_raw"), "42000\n");
        final ScmiSensor s = SensorSpec.parse("iio,path=" + dir + ",channel=in_temp,name=cpu");
        try
        {
            assertThat(s.name()).isEqualTo("cpu");
            assertThat(s.axes()).isZero();
            assertThat(s.unit()).isEqualTo(ScmiSensor.UNIT_DEGREES_C);
            assertThat(s.exponent(0)).isEqualTo(-3);
            final long[] v = new long[1];
            assertThat(s.read(v)).isTrue();
            assertThat(v[0]).isEqualTo(42000);
            assertThat(((IioSensor)s).channel()).isEqualTo("in_temp");
        }
        finally
        {
            s.close();
        }
        assertThat(SensorSpec.parse("iio,path=" + dir + ",channel=in_temp").name()).as("no name file").isEqualTo("iio");
    }
}
