package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class I2cCommandTest
{
    @Test
    void printCapabilitiesPrintsTheI2cTypeAsJson()
    {
        final CliRun r = CliRun.of("i2c", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"i2c\"}");
    }

    @Test
    void helpListsVhostDeviceI2csFlagsAndTheSimulatedBus()
    {
        final CliRun r = CliRun.of("i2c", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-c, --socket-count", "-l, --device-list", "ADDR=eeprom",
            "'sim'");
    }

    @Test
    void aBadDeviceListIsRefusedNamingThePart()
    {
        final CliRun missing = CliRun.of("i2c", "-s", "/tmp/i2c.sock");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("--device-list is required");
        final CliRun bad = CliRun.of("i2c", "-s", "/tmp/i2c.sock", "-l", "sim:0x50=flash");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("unknown simulated client 'flash'");
        final CliRun twice = CliRun.of("i2c", "-s", "/tmp/i2c.sock", "-l", "sim:0x50=eeprom,3:80");
        assertThat(twice.err()).contains("address 80 is listed twice");
    }

    @Test
    void anAdapterThatCannotBeOpenedIsNamed()
    {
        final CliRun r = CliRun.of("i2c", "-s", "/tmp/jvhost-i2c-test.sock", "-l", "97:32");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("cannot open I2C adapter /dev/i2c-97: ENOENT");
    }
}
