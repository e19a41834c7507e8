package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class GpioCommandTest
{
    @Test
    void printCapabilitiesPrintsTheGpioTypeAsJson()
    {
        final CliRun r = CliRun.of("gpio", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"gpio\"}");
    }

    @Test
    void helpListsVhostDeviceGpiosFlagsAndTheControlSocket()
    {
        final CliRun r = CliRun.of("gpio", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-c, --socket-count", "-l, --device-list",
            "--control-socket");
    }

    @Test
    void theDeviceListMustNameOneChipPerSocket()
    {
        final CliRun missing = CliRun.of("gpio", "-s", "/tmp/g.sock");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("--device-list is required");
        final CliRun count = CliRun.of("gpio", "-s", "/tmp/g.sock", "-c", "2", "-l", "s8");
        assertThat(count.err()).contains("--device-list names 1 chip(s) but --socket-count is 2");
        final CliRun bad = CliRun.of("gpio", "-s", "/tmp/g.sock", "-l", "sx");
        assertThat(bad.err()).contains("'sx' is neither a chip number nor sN");
        final CliRun big = CliRun.of("gpio", "-s", "/tmp/g.sock", "-l", "s5000");
        assertThat(big.err()).contains("1..1024 lines, got 5000");
    }

    @Test
    void aChipThatCannotBeOpenedIsNamed()
    {
        final CliRun r = CliRun.of("gpio", "-s", "/tmp/jvhost-gpio-test.sock", "-l", "97");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("cannot open GPIO chip /dev/gpiochip97: ENOENT");
    }
}
