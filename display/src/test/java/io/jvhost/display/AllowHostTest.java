package io.jvhost.display;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Names the user allows with {@code allow-host=} reach the console (a reverse proxy's name, the machine's own name or
 * address behind 0.0.0.0); others do not, and a WebSocket still needs an Origin of the same name.
 */
@Timeout(30)
class AllowHostTest
{
    @Test
    void anAllowedExtraNameIsServedOthersAreNot() throws Exception
    {
        try (DisplayServer server = DisplayServer.builder().name("allow").web(new InetSocketAddress("127.0.0.1", 0),
            List.of("console.example", "10.9.8.7", "[fd00::7]")).start())
        {
            final InetSocketAddress web = server.webAddresses().getFirst();
            final int port = web.getPort();
            for (final String host : List.of("console.example:" + port, "Console.Example.:" + port, "10.9.8.7:" + port,
                "[fd00:0::7]:" + port, "localhost:" + port, "127.0.0.1:" + port))
            {
                assertThat(WsTestClient.get(web, host, "/scanouts", "").statusLine).as(host)
                    .isEqualTo("HTTP/1.1 200 OK");
            }
            for (final String host : List.of("other.example:" + port, "www.console.example:" + port,
                "10.9.8.6:" + port))
            {
                assertThat(WsTestClient.get(web, host, "/", "").statusLine).as(host)
                    .isEqualTo("HTTP/1.1 421 Misdirected Request");
            }
            try (WsTestClient ws = WsTestClient.open(web, "console.example:" + port, "/websockify",
                "Origin: http://console.example:" + port + "\r\n"))
            {
                assertThat(ws.statusLine).isEqualTo("HTTP/1.1 101 Switching Protocols");
                ws.rfb().handshake();
            }
            try (WsTestClient ws = WsTestClient.open(web, "console.example:" + port, "/websockify",
                "Origin: http://other.example:" + port + "\r\n"))
            {
                assertThat(ws.statusLine).as("a page of another origin").isEqualTo("HTTP/1.1 403 Forbidden");
            }
        }
    }

    @Test
    void behindAWildcardAddressLoopbackIsServedAndTheMachinesOwnAddressOnlyWhenAllowed() throws Exception
    {
        final String own = ownAddress();
        try (DisplayServer plain = DisplayServer.builder().name("any").web(new InetSocketAddress("0.0.0.0", 0))
            .start();
             DisplayServer allowing = DisplayServer.builder().name("any-own")
                 .web(new InetSocketAddress("0.0.0.0", 0), List.of(own)).start())
        {
            final InetSocketAddress web = plain.webAddresses().getFirst();
            final int port = web.getPort();
            for (final String host : List.of("127.0.0.1:" + port, "[::1]:" + port, "localhost:" + port))
            {
                assertThat(WsTestClient.get(web, host, "/", "").statusLine).as(host).isEqualTo("HTTP/1.1 200 OK");
            }
            for (final String host : List.of(own + ":" + port, "0.0.0.0:" + port, "evil.example:" + port))
            {
                assertThat(WsTestClient.get(web, host, "/", "").statusLine).as(host)
                    .isEqualTo("HTTP/1.1 421 Misdirected Request");
            }
            final InetSocketAddress allowed = allowing.webAddresses().getFirst();
            assertThat(WsTestClient.get(allowed, own + ":" + allowed.getPort(), "/", "").statusLine)
                .isEqualTo("HTTP/1.1 200 OK");
        }
    }

    @Test
    void malformedHostsAreBadRequestsAndBadNamesAreRefusedAtStart()
    {
        final AllowedHosts hosts = new AllowedHosts(InetAddress.getLoopbackAddress(), List.of());
        assertThat(hosts.refusal("127.0.0.1:8080")).isZero();
        for (final String host : new String[] {"", "[::1", "127.0.0.1:99999", "127.0.0.1:80:80", "a b",
            "user@127.0.0.1", "127.0.0.1:8080, evil.example", "[zz::1]", "ev%69l.example"})
        {
            assertThat(hosts.refusal(host)).as("'%s'", host).isEqualTo(400);
        }
        assertThat(hosts.refusal(null)).isEqualTo(400);
        assertThat(hosts.refusal("0177.0.0.1")).as("not dotted-quad decimal: a name").isEqualTo(421);
        for (final String bad : new String[] {"evil example", "a,b", "http://x", "-x.example", "127.1", ""})
        {
            assertThatThrownBy(() -> DisplayServer.builder().web(new InetSocketAddress("127.0.0.1", 0),
                List.of(bad))).as("'%s'", bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /**
     * @return a non-loopback IPv4 address of this machine, or one from TEST-NET-1 when it has none (the console
     *     only compares the Host's text with what it was told).
     */
    private static String ownAddress() throws Exception
    {
        for (final NetworkInterface i : NetworkInterface.networkInterfaces().toList())
        {
            for (final InetAddress a : i.inetAddresses().toList())
            {
                if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
                {
                    return a.getHostAddress();
                }
            }
        }
        return "192.0.2.7";
    }
}
