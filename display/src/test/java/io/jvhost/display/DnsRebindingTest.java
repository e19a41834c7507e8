package io.jvhost.display;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.logging.Level;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.os.LogRecorder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DNS rebinding: a page at {@code http://evil.example:PORT} whose name now resolves to 127.0.0.1 sends a Host (and an
 * Origin) naming evil.example. The console refuses every such request, page, noVNC, JSON, PNG and WebSocket alike,
 * with {@code 421 Misdirected Request} and one log line naming the Host; its own names are served.
 */
@Timeout(30)
class DnsRebindingTest
{
    private static final List<String> ROUTES = List.of("/", "/index.html", "/app.js", "/style.css",
        "/novnc/core/rfb.js", "/scanouts", "/snapshot/0.png", "/nothing-here.js");

    private DisplayServer server;
    private InetSocketAddress web;
    private int port;

    @BeforeEach
    void start() throws IOException
    {
        server = DisplayServer.builder().name("rebind").web(new InetSocketAddress("127.0.0.1", 0)).start();
        web = server.webAddresses().getFirst();
        port = web.getPort();
        RfbServerTest.show(server, 0, 16, 16, Pictures.noise(16, 16, 1));
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    @Test
    void aForeignHostIsRefusedOnEveryRouteWithOneLogLineNamingIt() throws Exception
    {
        try (LogRecorder log = LogRecorder.of(WebConsole.class))
        {
            for (final String host : List.of("evil.example:" + port, "evil.example", "EVIL.example.:" + port,
                "127.0.0.1.evil.example:" + port, "localhost.evil.example:" + port, "127.1:" + port))
            {
                for (final String route : ROUTES)
                {
                    try (WsTestClient c = WsTestClient.get(web, host, route, ""))
                    {
                        assertThat(c.statusLine).as("GET %s with Host %s", route, host)
                            .isEqualTo("HTTP/1.1 421 Misdirected Request");
                    }
                    assertThat(log.matching(Level.WARNING, "Host '" + host + "'", route)).as("log of %s %s", host,
                        route).hasSize(1).allSatisfy(e -> assertThat(e.thrown()).isNull());
                }
            }
        }
        assertThat(WsTestClient.get(web, "127.0.0.1:" + port, "/", "").statusLine).isEqualTo("HTTP/1.1 200 OK");
    }

    @Test
    void theRebindingPagesWebSocketIsRefusedThoughHostAndOriginAgree() throws Exception
    {
        try (LogRecorder log = LogRecorder.of(WebConsole.class);
             WsTestClient ws = WsTestClient.open(web, "evil.example:" + port, "/websockify",
                 "Origin: http://evil.example:" + port + "\r\n"))
        {
            assertThat(ws.statusLine).isEqualTo("HTTP/1.1 421 Misdirected Request");
            assertThat(ws.eof()).as("no RFB follows").isTrue();
            assertThat(log.matching(Level.WARNING, "Host 'evil.example:" + port + "'", "/websockify")).hasSize(1);
        }
        assertThat(server.viewers()).isZero();
    }

    @Test
    void aRequestWithoutHostIsABadRequest() throws Exception
    {
        for (final String route : List.of("/", "/scanouts", "/websockify"))
        {
            try (WsTestClient c = WsTestClient.raw(web, "GET " + route + " HTTP/1.1\r\nConnection: close\r\n\r\n"))
            {
                assertThat(c.statusLine).as(route).isEqualTo("HTTP/1.1 400 Bad Request");
            }
        }
        try (WsTestClient c = WsTestClient.raw(web, "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port
            + "\r\nHost: evil.example\r\nConnection: close\r\n\r\n"))
        {
            assertThat(c.statusLine).as("two Hosts").isEqualTo("HTTP/1.1 400 Bad Request");
        }
    }

    @Test
    void theListenAddressAndLocalhostAreServed() throws Exception
    {
        for (final String host : List.of("127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "LocalHost.:" + port,
            "127.0.0.1:9000"))
        {
            try (WsTestClient c = WsTestClient.get(web, host, "/scanouts", ""))
            {
                assertThat(c.statusLine).as(host).isEqualTo("HTTP/1.1 200 OK");
            }
        }
        try (WsTestClient ws = WsTestClient.open(web, "localhost:" + port, "/websockify",
            "Origin: http://localhost:" + port + "\r\n"))
        {
            assertThat(ws.statusLine).isEqualTo("HTTP/1.1 101 Switching Protocols");
            ws.rfb().handshake();
        }
    }
}
