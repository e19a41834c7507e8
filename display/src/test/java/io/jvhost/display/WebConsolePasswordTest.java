package io.jvhost.display;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import javax.imageio.ImageIO;

import io.jvhost.display.rfb.VncAuth;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With a display password nothing of the screen is served without it: {@code /scanouts} and {@code /snapshot/N.png}
 * want it by HTTP Basic (any user name, the whole password) and answer 401 with a challenge otherwise. The page and
 * noVNC load without it (noVNC asks it over RFB), and the WebSocket keeps RFB's VNC Authentication.
 */
@Timeout(30)
class WebConsolePasswordTest
{
    private static final String PASSWORD = "display-pw-1";
    private static final List<String> SCREEN = List.of("/scanouts", "/snapshot/0.png");

    private DisplayServer server;
    private InetSocketAddress web;
    private String host;
    private int[] picture;

    @BeforeEach
    void start() throws IOException
    {
        server = DisplayServer.builder().name("pw").password(PASSWORD).authFailureDelay(Duration.ZERO)
            .web(new InetSocketAddress("127.0.0.1", 0)).start();
        web = server.webAddresses().getFirst();
        host = "127.0.0.1:" + web.getPort();
        picture = Pictures.noise(24, 18, 5);
        RfbServerTest.show(server, 0, 24, 18, picture);
    }

    @AfterEach
    void stop()
    {
        server.close();
    }

    private static String basic(final String credentials)
    {
        return "Authorization: Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(
            StandardCharsets.UTF_8)) + "\r\n";
    }

    @Test
    void theScreenRoutesAreRefusedWithoutThePassword() throws Exception
    {
        for (final String route : SCREEN)
        {
            for (final String credentials : new String[] {"", basic("user:wrong"),
                basic(":" + PASSWORD.substring(0, 8)), basic(PASSWORD), "Authorization: Basic !!!\r\n",
                "Authorization: Bearer " + PASSWORD + "\r\n"})
            {
                try (WsTestClient c = WsTestClient.get(web, host, route, credentials))
                {
                    assertThat(c.statusLine).as("%s with '%s'", route, credentials)
                        .isEqualTo("HTTP/1.1 401 Unauthorized");
                    assertThat(c.headers.get("www-authenticate"))
                        .isEqualTo("Basic realm=\"jvhost pw\", charset=\"UTF-8\"");
                    assertThat(new String(c.body(), StandardCharsets.UTF_8)).doesNotContain("width", "PNG");
                }
            }
        }
    }

    @Test
    void theScreenRoutesAreServedWithThePasswordAndAnyUserName() throws Exception
    {
        for (final String user : new String[] {"", "viewer", "anyone at all"})
        {
            try (WsTestClient c = WsTestClient.get(web, host, "/scanouts", basic(user + ":" + PASSWORD)))
            {
                assertThat(c.statusLine).isEqualTo("HTTP/1.1 200 OK");
                assertThat(new String(c.body(), StandardCharsets.UTF_8)).contains("\"width\":24,\"height\":18");
            }
        }
        try (WsTestClient c = WsTestClient.get(web, host, "/snapshot/0.png", basic("x:" + PASSWORD)))
        {
            assertThat(c.statusLine).isEqualTo("HTTP/1.1 200 OK");
            final BufferedImage image = ImageIO.read(new ByteArrayInputStream(c.body()));
            assertThat(image.getRGB(7, 5) & 0xFF_FFFF).isEqualTo(picture[5 * 24 + 7]);
        }
    }

    @Test
    void thePageLoadsWithoutThePasswordAndTheWebSocketAsksItOverRfb() throws Exception
    {
        for (final String route : List.of("/", "/app.js", "/style.css", "/novnc/core/rfb.js"))
        {
            assertThat(WsTestClient.get(web, host, route, "").statusLine).as(route).isEqualTo("HTTP/1.1 200 OK");
        }
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            assertThat(ws.statusLine).isEqualTo("HTTP/1.1 101 Switching Protocols");
            assertThat(ws.rfb().vncAuth(challenge -> VncAuth.response(PASSWORD, challenge))).isZero();
        }
        try (WsTestClient ws = WsTestClient.open(web, "/websockify", ""))
        {
            assertThat(ws.rfb().vncAuth(challenge -> VncAuth.response("wrong", challenge))).isEqualTo(1);
        }
    }
}
