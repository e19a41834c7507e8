package io.jvhost.launcher;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class CanCommandTest
{
    @Test
    void printCapabilitiesPrintsTheCanTypeAsJson()
    {
        final CliRun r = CliRun.of("can", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"can\"}");
    }

    @Test
    void helpListsVhostDeviceCansFlags()
    {
        final CliRun r = CliRun.of("can", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-c, --socket-count", "-d, --can-devices", "bus:NAME");
    }

    @Test
    void oneDevicePerSocketIsRequired()
    {
        final CliRun r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-c", "2", "-d", "can0");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--can-devices names 1 device(s) but --socket-count is 2");
    }

    @Test
    void theSocketCountMustBePositive()
    {
        final CliRun r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-c", "0");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--socket-count must be at least 1, got 0");
    }

    @Test
    void aMissingInterfaceIsNamedWithTheKernelsErrno()
    {
        final CliRun r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-d", "jvcan9");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("jvhost can: SocketCAN interface jvcan9: no such network interface",
            "SIOCGIFINDEX: ENODEV");
    }

    @Test
    void anInterfaceThatIsNotCanIsRefused()
    {
        final CliRun r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-d", "lo");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err())
            .contains("SocketCAN interface lo: not a CAN interface (its link type is 772, CAN's is 280)");
    }

    @Test
    void anInterfaceListedTwiceAndABusWithoutANameAreRefused()
    {
        CliRun r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-c", "2", "-d", "lo lo");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--can-devices: lo is listed twice");
        r = CliRun.of("can", "-s", "/tmp/jvhost-can-test.sock", "-d", "bus:");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("'bus:' needs a name");
    }
}
