package io.jvhost.launcher;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.GpuOptions;
import io.jvhost.display.DisplayServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code jvhost gpu --display ... --display-password ... --input-socket ...}: parsing and the usage errors.
 */
@Timeout(30)
class GpuDisplayOptionsTest
{
    private static final CommandLine CLI = new CommandLine(new GpuCommand());

    private static List<GpuCommand.DisplaySpec> parse(final String... values)
    {
        return GpuCommand.displaySpecs(List.of(values), CLI);
    }

    @Test
    void webAndVncAddressesParse()
    {
        final List<GpuCommand.DisplaySpec> specs = parse("web=127.0.0.1:8080", "vnc=5900", "vnc=[::1]:5901,scanout=3",
            "web=0.0.0.0:0");
        assertThat(specs).containsExactly(
            new GpuCommand.DisplaySpec(true, new InetSocketAddress("127.0.0.1", 8080), 0),
            new GpuCommand.DisplaySpec(false, new InetSocketAddress("127.0.0.1", 5900), 0),
            new GpuCommand.DisplaySpec(false, new InetSocketAddress("::1", 5901), 3),
            new GpuCommand.DisplaySpec(true, new InetSocketAddress("0.0.0.0", 0), 0));
    }

    @Test
    void theWebConsoleTakesAllowedHostNames()
    {
        assertThat(parse("web=0.0.0.0:8080,allow-host=myhost.lan,allow-host=192.168.1.5,allow-host=[fd00::1]"))
            .containsExactly(new GpuCommand.DisplaySpec(true, new InetSocketAddress("0.0.0.0", 8080), 0,
                List.of("myhost.lan", "192.168.1.5", "[fd00::1]")));
    }

    @Test
    void theAllowedNamesReachTheConsoleOthersAreMisdirected() throws Exception
    {
        try (DisplayServer server = GpuCommand.startDisplay("opt", parse("web=127.0.0.1:0,allow-host=console.example"),
            null, null, new MemoryBudget("opt", 64L << 20), GpuOptions.defaults()))
        {
            final InetSocketAddress web = server.webAddresses().getFirst();
            assertThat(statusLine(web, "console.example:" + web.getPort())).isEqualTo("HTTP/1.1 200 OK");
            assertThat(statusLine(web, "other.example:" + web.getPort()))
                .isEqualTo("HTTP/1.1 421 Misdirected Request");
        }
    }

    private static String statusLine(final InetSocketAddress web, final String host) throws Exception
    {
        try (Socket socket = new Socket())
        {
            socket.connect(web, 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
            final String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            return response.substring(0, response.indexOf("\r\n"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"web", "web=", "http=127.0.0.1:80", "web=127.0.0.1:99999", "web=127.0.0.1:80,scanout=1",
        "vnc=127.0.0.1:5900,scanout=16", "vnc=no-such-host.invalid:5900", "vnc=127.0.0.1",
        "web=127.0.0.1:80,allow-host=bad name", "web=127.0.0.1:80,allow-host=", "vnc=127.0.0.1:5900,allow-host=x.lan",
        "web=127.0.0.1:80,origin=x", "vnc=127.0.0.1:5900,scanout=1,scanout=2", "web=127.0.0.1:80,allow-host"})
    void badValuesAreRefusedNamingThem(final String value)
    {
        assertThatThrownBy(() -> parse(value)).isInstanceOf(CommandLine.ParameterException.class)
            .hasMessageContaining(value);
    }

    private static String runErr(final String... args)
    {
        final PrintStream old = System.err;
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        try
        {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            final CommandLine cli = Main.commandLine();
            cli.setErr(new PrintWriter(System.err, true));
            cli.setOut(new PrintWriter(System.err, true));
            final int code = cli.execute(args);
            return code + " " + err.toString(StandardCharsets.UTF_8);
        }
        finally
        {
            System.setErr(old);
        }
    }

    @Test
    void displayAndInputServeOneGpuOnly()
    {
        assertThat(runErr("gpu", "-s", "/tmp/x.sock", "--socket-count", "2", "--display", "web=127.0.0.1:0"))
            .startsWith("2 ").contains("--display and --input-socket serve one GPU");
    }

    @Test
    void aPasswordNeedsADisplay()
    {
        assertThat(runErr("gpu", "-s", "/tmp/x.sock", "--display-password", "secret", "--input-socket", "/tmp/i.sock"))
            .startsWith("2 ").contains("--display-password needs a --display");
    }

    @Test
    void helpDescribesTheDisplayFlags()
    {
        assertThat(runErr("gpu", "--help")).contains("--display", "--display-password", "--input-socket",
            "web=HOST:PORT");
    }
}
