package io.jvhost.display;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.logging.Level;

import io.jvhost.display.http.HttpServer;
import io.jvhost.os.LogRecorder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A request the server cannot read, a malformed percent-encoding included, is a 400 with one log line and no stack
 * trace, and the server keeps serving everyone else.
 */
@Timeout(30)
class MalformedRequestTest
{
    private DisplayServer server;
    private InetSocketAddress web;
    private String host;

    @BeforeEach
    void start() throws IOException
    {
        server = DisplayServer.builder().name("malformed").web(new InetSocketAddress("127.0.0.1", 0)).start();
        web = server.webAddresses().getFirst();
        host = "127.0.0.1:" + web.getPort();
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    @Test
    void aMalformedPercentEncodingIsA400AndTheServerKeepsServing() throws Exception
    {
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(HttpServer.class))
        {
            final List<String> targets = List.of("/snapshot/%zz.png", "/%", "/%4", "/app%2.js", "/%-1",
                "/websockify?scanout=%zz", "/scanouts?%=1");
            for (final String target : targets)
            {
                try (WsTestClient c = WsTestClient.get(web, host, target, ""))
                {
                    assertThat(c.statusLine).as(target).isEqualTo("HTTP/1.1 400 Bad Request");
                    assertThat(c.eof()).isTrue();
                }
            }
            assertThat(log.matching(Level.INFO, "bad request from", "malformed percent-encoding")).hasSize(
                targets.size()).allSatisfy(e -> assertThat(e.thrown()).isNull());
            assertThat(uncaught.deaths()).isEmpty();
            assertThat(WsTestClient.get(web, host, "/snapshot/%30.png", "").statusLine).as("a good escape")
                .isEqualTo("HTTP/1.1 404 Not Found");
            assertThat(WsTestClient.get(web, host, "/", "").statusLine).isEqualTo("HTTP/1.1 200 OK");
        }
    }

    @Test
    void aMalformedRequestLineOrHeaderIsA400() throws Exception
    {
        try (UncaughtRecorder uncaught = new UncaughtRecorder();
             LogRecorder log = LogRecorder.of(HttpServer.class))
        {
            final List<String> requests = List.of(
                "GET / HTTP/1.1\r\nBad Name: x\r\nHost: " + host + "\r\n\r\n",
                "GET / HTTP/1.1\r\nHost : " + host + "\r\n\r\n",
                "GET / HTTP/1.1\r\n: empty name\r\nHost: " + host + "\r\n\r\n",
                "G(T / HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
                "GET / HTTP/1.9\r\nHost: " + host + "\r\n\r\n",
                "GET / HTTP/1.1 extra\r\nHost: " + host + "\r\n\r\n",
                "GET /\r\nHost: " + host + "\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: " + host + "\r\nX: a\u0001b\r\n\r\n");
            for (final String request : requests)
            {
                try (WsTestClient c = WsTestClient.raw(web, request))
                {
                    assertThat(c.statusLine).as(request).isEqualTo("HTTP/1.1 400 Bad Request");
                    assertThat(c.eof()).isTrue();
                }
            }
            assertThat(log.matching(Level.INFO, "bad request from")).hasSize(requests.size())
                .allSatisfy(e -> assertThat(e.thrown()).isNull());
            assertThat(uncaught.deaths()).isEmpty();
            assertThat(WsTestClient.get(web, host, "/", "").statusLine).isEqualTo("HTTP/1.1 200 OK");
        }
    }
}
