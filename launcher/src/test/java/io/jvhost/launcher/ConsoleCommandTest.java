package io.jvhost.launcher;

import java.net.ServerSocket;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class ConsoleCommandTest
{
    @Test
    void printCapabilitiesPrintsTheConsoleTypeAsJson()
    {
        final CliRun r = CliRun.of("console", "--print-capabilities");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().replaceAll("\\s", "")).isEqualTo("{\"type\":\"console\"}");
    }

    @Test
    void helpListsVhostDeviceConsolesFlagsWithTheirDefaults()
    {
        final CliRun r = CliRun.of("console", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("-s, --socket-path", "-c, --socket-count", "-b, --backend", "-p, --tcp-port",
            "-q, --max-queue-size", "Default: nested", "Default: 12345", "Default: 128", "Default: 1");
    }

    @Test
    void nestedBackendWithMoreThanOneSocketIsRefusedAsVhostDeviceConsoleDoes()
    {
        final CliRun r = CliRun.of("console", "-s", "/tmp/c.sock", "-c", "2");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Error using multiple sockets with Nested backend");
    }

    @Test
    void queueSizeMustBeAPowerOfTwo()
    {
        assertThat(CliRun.of("console", "-s", "/tmp/c.sock", "-b", "network", "-q", "100").err())
            .contains("--max-queue-size must be a power of two in 1..32768, got 100");
        assertThat(CliRun.of("console", "-s", "/tmp/c.sock", "-b", "network", "-q", "65536").exitCode()).isEqualTo(2);
    }

    @Test
    void tcpPortsPastTheLastOneAreRefused()
    {
        final CliRun r = CliRun.of("console", "-s", "/tmp/c.sock", "-b", "network", "-p", "65535", "-c", "2");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("needs ports up to 65536");
    }

    @Test
    void aTcpPortInUseFailsNamingThePortAndErrno(@TempDir final Path dir) throws Exception
    {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            final CliRun r = CliRun.of("console", "-s", dir.resolve("c.sock").toString(), "-b", "network", "-p",
                Integer.toString(taken.getLocalPort()));
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).contains("EADDRINUSE", "127.0.0.1:" + taken.getLocalPort());
        }
    }

    @Test
    void socketPathOrFdIsRequired()
    {
        assertThat(CliRun.of("console", "-b", "network").err()).contains("exactly one of --socket-path and --fd");
    }
}
