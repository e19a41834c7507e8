package io.jvhost.display;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import javax.imageio.ImageIO;

import io.jvhost.display.websocket.WebSocketHandshake;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web console: the page and noVNC, PNG snapshots, and RFB over WebSocket framing of our own (masking,
 * fragmentation, ping/pong, close handshake, broken frames closing only their own connection).
 */
@Timeout(30)
class WebConsoleTest
{
    private DisplayServer server;
    private InetSocketAddress web;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws IOException
    {
        server = DisplayServer.builder().name("web-test").web(new InetSocketAddress("127.0.0.1", 0)).start();
        web = server.webAddresses().getFirst();
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    private HttpResponse<byte[]> get(final String path) throws Exception
    {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.getPort() + path)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void acceptKeyFollowsRfc6455() 
    {
        assertThat(WebSocketHandshake.accept("dGhlIHNhbXBsZSBub25jZQ==")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    @Test
    void servesThePageAndNoVncFromTheJar() throws Exception
    {
        final HttpResponse<byte[]> page = get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
        assertThat(new String(page.body(), StandardCharsets.UTF_8)).contains("importmap", "./novnc/core/rfb.js");
        final HttpResponse<byte[]> rfb = get("/novnc/core/rfb.js");
        assertThat(rfb.statusCode()).as("noVNC packed at build time").isEqualTo(200);
        assertThat(rfb.headers().firstValue("content-type")).hasValue("text/javascript; charset=utf-8");
        assertThat(get("/novnc/vendor/pako/lib/zlib/inflate.js").statusCode()).isEqualTo(200);
        final HttpResponse<byte[]> app = get("/app.js");
        assertThat(app.statusCode()).isEqualTo(200);
        assertThat(new String(app.body(), StandardCharsets.UTF_8)).as("a dot while the guest shows no cursor")
            .contains("showDotCursor = true");
        assertThat(get("/novnc/../../DisplayServer.class").statusCode()).isEqualTo(404);
        assertThat(get("/nothing-here.js").statusCode()).isEqualTo(404);
        assertThat(new String(get("/scanouts").body(), StandardCharsets.UTF_8))
            .isEqualTo("{\"name\":\"web-test\",\"input\":false,\"scanouts\":[{\"index\":0,\"width\":640,"
                + "\"height\":480,\"enabled\":false}]}");
    }

    @Test
    void snapshotIsAPngOfTheScanout() throws Exception
    {
        final int[] picture = Pictures.noise(64, 48, 9);
        RfbServerTest.show(server, 1, 64, 48, picture);
        final HttpResponse<byte[]> png = get("/snapshot/1.png");
        assertThat(png.statusCode()).isEqualTo(200);
        assertThat(png.headers().firstValue("content-type")).hasValue("image/png");
        final BufferedImage image = ImageIO.read(new ByteArrayInputStream(png.body()));
        assertThat(image.getWidth()).isEqualTo(64);
        assertThat(image.getHeight()).isEqualTo(48);
        for (int y = 0; y < 48; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                assertThat(image.getRGB(x, y) & 0xFF_FFFF).as("pixel %d,%d", x, y).isEqualTo(picture[y * 64 + x]);
            }
        }
        assertThat(get("/snapshot/5.png").statusCode()).isEqualTo(404);
        assertThat(get("/snapshot/99.png").statusCode()).isEqualTo(404);
    }

    @Test
    void badHttpGetsA400AndOnlyThatConnectionCloses() throws Exception
    {
        try (WsTestClient bad = WsTestClient.raw(web, "GARBAGE\r\n\r\n"))
        {
            assertThat(bad.status).isEqualTo(400);
            assertThat(bad.eof()).isTrue();
        }
        try (WsTestClient post = WsTestClient.raw(web, "POST / HTTP/1.1\r\nHost: x\r\n\r\n"))
        {
            assertThat(post.status).isEqualTo(405);
        }
        assertThat(get("/").statusCode()).isEqualTo(200);
    }

    @Test
    void upgradeEchoesTheBinarySubprotocolAndCarriesRfb() throws Exception
    {
        final int[] picture = Pictures.mixed(200, 150, 11);
        RfbServerTest.show(server, 0, 200, 150, picture);
        try (WsTestClient ws = WsTestClient.open(web, "/websockify?scanout=0",
            "Sec-WebSocket-Protocol: base64, binary\r\n"))
        {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers).containsEntry("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
                .containsEntry("sec-websocket-protocol", "binary").containsEntry("upgrade", "websocket");
            final RfbTestClient rfb = ws.rfb().handshake();
            rfb.setPixelFormat(RfbServerTest.NOVNC);
            rfb.setEncodings(16, -223, -258);
            rfb.requestUpdate(false);
            rfb.readUpdate();
            assertThat(rfb.pixels).isEqualTo(picture);
        }
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            assertThat(ws.status).isEqualTo(101);
            assertThat(ws.headers).doesNotContainKey("sec-websocket-protocol");
        }
    }

    @Test
    void fragmentedMaskedClientMessagesWithPingsBetweenFragmentsAreReassembled() throws Exception
    {
        final int[] picture = Pictures.noise(40, 30, 12);
        RfbServerTest.show(server, 0, 40, 30, picture);
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            ws.fragment = 3;
            final RfbTestClient rfb = ws.rfb().handshake();
            rfb.setEncodings(6);
            rfb.requestUpdate(false);
            rfb.readUpdate();
            assertThat(rfb.pixels).isEqualTo(picture);
        }
    }

    @Test
    void pingIsAnsweredWithPongAndCloseIsEchoed() throws Exception
    {
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            ws.read(); // the server's RFB version
            ws.send(true, 9, "are you there".getBytes(StandardCharsets.UTF_8), true);
            final WsTestClient.Frame pong = ws.readControl();
            assertThat(pong.opcode()).isEqualTo(10);
            assertThat(new String(pong.payload(), StandardCharsets.UTF_8)).isEqualTo("are you there");
            ws.send(true, 8, new byte[] {0x03, (byte)0xE8, 'b', 'y', 'e'}, true);
            final WsTestClient.Frame close = ws.readControl();
            assertThat(close.opcode()).isEqualTo(8);
            assertThat(close.closeCode()).isEqualTo(1000);
            assertThat(ws.eof()).isTrue();
        }
    }

    @Test
    void brokenFramesCloseOnlyTheirConnectionWithTheRightStatus() throws Exception
    {
        final int[] picture = Pictures.noise(32, 32, 13);
        RfbServerTest.show(server, 0, 32, 32, picture);
        try (WsTestClient good = WsTestClient.open(web, "/websockify", ""))
        {
            final RfbTestClient viewer = good.rfb().handshake();
            viewer.setEncodings(0);
            viewer.requestUpdate(false);
            viewer.readUpdate();

            assertClosedWith(1002, ws -> ws.send(true, 2, new byte[] {1, 2, 3}, false));              // unmasked
            assertClosedWith(1003, ws -> ws.send(true, 1, "RFB".getBytes(StandardCharsets.UTF_8), true)); // text
            assertClosedWith(1009, ws -> ws.sendHeader(2, 1L << 30));                                 // too big
            assertClosedWith(1002, ws -> ws.send(true, 0, new byte[] {1}, true));       // continuation of nothing
            assertClosedWith(1002, ws -> ws.send(true, 0x42, new byte[] {1}, true));    // reserved bit
            assertClosedWith(1002, ws -> ws.send(false, 9, new byte[] {1}, true));      // fragmented ping
            assertClosedWith(1002, ws -> ws.send(true, 9, new byte[126], true));        // ping over 125 bytes
            assertClosedWith(1002, ws -> ws.send(true, 5, new byte[] {1}, true));       // unknown opcode
            assertClosedWith(1002, ws ->
            {
                ws.send(false, 2, new byte[] {1}, true);
                ws.send(true, 2, new byte[] {2}, true);                                 // new message inside one
            });

            // RFB garbage inside good frames: the RFB session ends, the WebSocket closes normally.
            try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
            {
                ws.read();
                ws.send(true, 2, "RFB 009.999\n".getBytes(StandardCharsets.US_ASCII), true);
                assertThat(ws.readControl().opcode()).isEqualTo(8);
                assertThat(ws.eof()).isTrue();
            }

            final int[] next = Pictures.noise(32, 32, 14);
            RfbServerTest.paint(server, 0, 0, 0, 32, 32, next);
            viewer.requestUpdate(true);
            viewer.readUpdate();
            assertThat(viewer.pixels).as("the good viewer keeps receiving").isEqualTo(next);
        }
    }

    @Test
    void aWebSocketFromAnotherOriginIsRefused() throws Exception
    {
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", "Origin: http://evil.example\r\n"))
        {
            assertThat(ws.status).isEqualTo(403);
        }
        try (WsTestClient ws = WsTestClient.open(web, "/websockify",
            "Origin: http://127.0.0.1:" + web.getPort() + "\r\n"))
        {
            assertThat(ws.status).isEqualTo(101);
        }
        try (WsTestClient ws = WsTestClient.raw(web, "GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:" + web.getPort()
            + "\r\n\r\n"))
        {
            assertThat(ws.status).isEqualTo(426);
        }
        assertThat(WebConsole.sameOrigin("http://[::1]:8080", "[::1]:8080")).isTrue();
        assertThat(WebConsole.sameOrigin("http://localhost:8080", "127.0.0.1:8080")).isFalse();
        assertThat(WebConsole.sameOrigin("null", "127.0.0.1:8080")).isFalse();
    }

    private interface Abuse
    {
        void apply(WsTestClient ws) throws IOException;
    }

    private void assertClosedWith(final int code, final Abuse abuse) throws Exception
    {
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            assertThat(ws.status).isEqualTo(101);
            ws.read(); // the server's RFB version
            abuse.apply(ws);
            final WsTestClient.Frame close = ws.readControl();
            assertThat(close.opcode()).isEqualTo(8);
            assertThat(close.closeCode()).isEqualTo(code);
            assertThat(ws.eof()).isTrue();
        }
    }
}
