package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SpiCommandTest
{
    @Test
    void printCapabilitiesPrintsTheSpiTypeAsJson()
    {
        final CliRun r = CliRun.of("spi", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"spi\"}");
    }

    @Test
    void helpListsVhostDeviceSpisFlagsAndTheSimulatedChips()
    {
        final CliRun r = CliRun.of("spi", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-c, --socket-count", "-l, --device", "/dev/spidevX.Y",
            "sim:CHIP", "'loopback'", "'eeprom'", "vhost-user-spi-pci");
    }

    @Test
    void aBadDeviceIsRefusedNamingThePart()
    {
        final CliRun missing = CliRun.of("spi", "-s", "/tmp/spi.sock");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("--device is required");
        final CliRun bad = CliRun.of("spi", "-s", "/tmp/spi.sock", "-l", "sim:loopback:flash");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("'flash': unknown simulated chip (loopback, eeprom)");
    }

    @Test
    void aSpidevThatCannotBeOpenedOrIsNoSpidevIsNamedWithItsErrno()
    {
        final CliRun absent = CliRun.of("spi", "-s", "/tmp/jvhost-spi-test.sock", "-l", "/dev/spidev9.9");
        assertThat(absent.exitCode()).isEqualTo(1);
        assertThat(absent.err()).contains("cannot open SPI device /dev/spidev9.9: ENOENT");
        final CliRun notSpi = CliRun.of("spi", "-s", "/tmp/jvhost-spi-test.sock", "-l", "/dev/null");
        assertThat(notSpi.exitCode()).isEqualTo(1);
        assertThat(notSpi.err()).contains("/dev/null is no spidev: SPI_IOC_RD_MODE32 failed: ENOTTY");
    }
}
