package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ScmiCommandTest
{
    @Test
    void printCapabilitiesPrintsTheScmiTypeAsJson()
    {
        final CliRun r = CliRun.of("scmi", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"scmi\"}");
    }

    @Test
    void helpListsVhostDeviceScmisFlags()
    {
        final CliRun r = CliRun.of("scmi", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-d, --device", "--help-devices");
    }

    @Test
    void helpDevicesListsTheKindsAndTheirPropertiesWithoutASocket()
    {
        final CliRun r = CliRun.of("scmi", "--help-devices");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("- fake: fake accelerometer", "- iio: industrial I/O sensor", "- path:",
            "- channel:", "- name:", "- kind:");
    }

    @Test
    void aWrongDeviceIsRefusedBeforeListening()
    {
        CliRun r = CliRun.of("scmi", "-s", "/nonexistent/scmi.sock", "-d", "fake,colour=red");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unexpected device parameters: colour");
        r = CliRun.of("scmi", "-s", "/nonexistent/scmi.sock", "-d", "iio,path=/nonexistent");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("missing device parameters: channel");
        r = CliRun.of("scmi", "-s", "/nonexistent/scmi.sock", "-d", "gyro");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unknown device kind 'gyro'");
    }

    @Test
    void aSocketPathOrDescriptorIsRequired()
    {
        final CliRun r = CliRun.of("scmi", "-d", "fake");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("exactly one of --socket-path and --fd is required");
    }
}
