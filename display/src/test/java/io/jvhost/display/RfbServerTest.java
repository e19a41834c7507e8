package io.jvhost.display;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.device.input.InputSink;
import io.jvhost.display.rfb.ClientPixelFormat;
import io.jvhost.display.rfb.KeyMap;
import io.jvhost.display.rfb.VncAuth;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The RFB server against a client written from RFC 6143: handshake, VNC Authentication with a known DES vector,
 * exact pixels in every encoding and pixel format, damage-only incremental updates, DesktopSize, and input reaching
 * the InputSink as evdev events.
 */
@Timeout(30)
class RfbServerTest
{
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
    /** noVNC's pixel format: 32 bits, depth 24, little-endian, R at bit 0, G at 8, B at 16 (R,G,B,X in memory). */
    static final ClientPixelFormat NOVNC = new ClientPixelFormat(32, 24, false, 255, 255, 255, 0, 8, 16);
    /** The same colours big-endian. */
    static final ClientPixelFormat BIG = new ClientPixelFormat(32, 24, true, 255, 255, 255, 16, 8, 0);

    private DisplayServer server;
    private final RecordingInput input = new RecordingInput();

    @AfterEach
    void stop()
    {
        if (null != server)
        {
            server.close();
        }
    }

    private DisplayServer start(final DisplayServer.Builder builder) throws IOException
    {
        server = builder.name("test").vnc(LOOPBACK).input(input).start();
        return server;
    }

    static void show(final DisplayServer display, final int scanout, final int width, final int height,
        final int[] rgb)
    {
        display.setScanout(scanout, width, height);
        paint(display, scanout, 0, 0, width, height, rgb);
    }

    static void paint(final DisplayServer display, final int scanout, final int x, final int y, final int width,
        final int height, final int[] rgb)
    {
        display.updateScanout(scanout, x, y, width, height, MemorySegment.ofArray(rgb), 0, width * 4,
            PixelFormat.B8G8R8X8);
    }

    @Test
    void handshakeWithoutPasswordGivesTheScanoutSizeAndServerFormat() throws Exception
    {
        start(DisplayServer.builder());
        show(server, 0, 320, 200, new int[320 * 200]);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            assertThat(c.width).isEqualTo(320);
            assertThat(c.height).isEqualTo(200);
            assertThat(c.desktopName).isEqualTo("jvhost test");
        }
    }

    @Test
    void vncAuthenticationMatchesTheFipsDesVector()
    {
        // FIPS 81's DES example: key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815. VNC reverses each key byte's
        // bits, so the password whose reversed bytes are 01 23 45 67 89 AB CD EF is 80 C4 A2 E6 91 D5 B3 F7.
        final String password = "\u0080\u00C4\u00A2\u00E6\u0091\u00D5\u00B3\u00F7";
        final byte[] challenge = "Now is tNow is t".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(HexFormat.of().formatHex(VncAuth.key(password))).isEqualTo("0123456789abcdef");
        assertThat(HexFormat.of().formatHex(VncAuth.response(password, challenge)))
            .isEqualTo("3fa40e8a984d48153fa40e8a984d4815");
    }

    @Test
    void vncAuthenticationAcceptsTheRightResponseAndRefusesAWrongOne() throws Exception
    {
        final String password = "\u0080\u00C4\u00A2\u00E6\u0091\u00D5\u00B3\u00F7";
        start(DisplayServer.builder().password(password).random(new FixedChallenge()).authFailureDelay(Duration.ZERO));
        final byte[] expected = HexFormat.of().parseHex("3fa40e8a984d48153fa40e8a984d4815");
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()))
        {
            assertThat(c.vncAuth(challenge ->
            {
                assertThat(new String(challenge, java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo("Now is tNow is t");
                return expected;
            })).isZero();
            c.init();
            assertThat(c.width).isEqualTo(640);
        }
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()))
        {
            assertThat(c.vncAuth(challenge -> VncAuth.response("wrong", challenge))).isEqualTo(1);
            assertThat(c.failureReason).isEqualTo("authentication failed");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aRealPasswordWorksEndToEnd() throws Exception
    {
        start(DisplayServer.builder().password("secret12345").authFailureDelay(Duration.ZERO));
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()))
        {
            // Only the first 8 characters count.
            assertThat(c.vncAuth(challenge -> VncAuth.response("secret12", challenge))).isZero();
        }
    }

    @ParameterizedTest(name = "{0} in {1}")
    @CsvSource({"0, server", "0, novnc", "0, big", "6, server", "6, novnc", "6, big", "16, server", "16, novnc",
        "16, big"})
    void pixelsArriveExactlyInEveryEncodingAndFormat(final int encoding, final String formatName) throws Exception
    {
        start(DisplayServer.builder());
        final int w = 200;
        final int h = 150;
        final int[] picture = Pictures.mixed(w, h, 42);
        show(server, 0, w, h, picture);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setPixelFormat(switch (formatName)
            {
                case "novnc" -> NOVNC;
                case "big" -> BIG;
                default -> ClientPixelFormat.SERVER;
            });
            c.setEncodings(encoding, -223);
            c.requestUpdate(false);
            final List<RfbTestClient.Rect> rects = c.readUpdate();
            assertThat(rects).allMatch(r -> r.encoding() == encoding);
            assertThat(c.pixels).isEqualTo(picture);

            // A second picture through the same (persistent) zlib stream.
            final int[] second = Pictures.mixed(w, h, 43);
            paint(server, 0, 0, 0, w, h, second);
            c.requestUpdate(true);
            c.readUpdate();
            assertThat(c.pixels).isEqualTo(second);
        }
    }

    @Test
    void zrleHandlesRectanglesThatAreNotMultiplesOfTheTile() throws Exception
    {
        start(DisplayServer.builder());
        final int w = 131;
        final int h = 67;
        final int[] picture = Pictures.mixed(w, h, 7);
        show(server, 0, w, h, picture);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(16);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.pixels).isEqualTo(picture);
        }
    }

    @Test
    void incrementalUpdatesCarryOnlyTheDamage() throws Exception
    {
        start(DisplayServer.builder());
        final int w = 160;
        final int h = 120;
        final int[] picture = Pictures.noise(w, h, 1);
        show(server, 0, w, h, picture);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(0);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.pixels).isEqualTo(picture);

            c.requestUpdate(true);
            final int[] patch = Pictures.noise(5, 7, 2);
            paint(server, 0, 10, 20, 5, 7, patch);
            assertThat(c.readUpdate()).containsExactly(new RfbTestClient.Rect(10, 20, 5, 7, 0));
            for (int y = 0; y < 7; y++)
            {
                for (int x = 0; x < 5; x++)
                {
                    picture[(20 + y) * w + 10 + x] = patch[y * 5 + x];
                }
            }
            assertThat(c.pixels).isEqualTo(picture);

            // Two separate damages before the next request arrive as two rectangles, nothing else.
            paint(server, 0, 0, 0, 2, 2, new int[4]);
            paint(server, 0, 150, 100, 3, 3, new int[9]);
            c.requestUpdate(true);
            assertThat(c.readUpdate()).containsExactlyInAnyOrder(new RfbTestClient.Rect(0, 0, 2, 2, 0),
                new RfbTestClient.Rect(150, 100, 3, 3, 0));
        }
    }

    @Test
    void aResizeIsAnnouncedWithDesktopSizeThenTheWholePicture() throws Exception
    {
        start(DisplayServer.builder());
        show(server, 0, 100, 80, Pictures.noise(100, 80, 3));
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(16, -223);
            c.requestUpdate(false);
            c.readUpdate();
            final int[] bigger = Pictures.mixed(180, 90, 4);
            show(server, 0, 180, 90, bigger);
            c.requestUpdate(true);
            assertThat(c.readUpdate()).containsExactly(new RfbTestClient.Rect(0, 0, 180, 90, -223));
            assertThat(c.width).isEqualTo(180);
            c.requestUpdate(true);
            final List<RfbTestClient.Rect> rects = c.readUpdate();
            assertThat(rects).containsExactly(new RfbTestClient.Rect(0, 0, 180, 90, 16));
            assertThat(c.pixels).isEqualTo(bigger);
        }
    }

    @Test
    void keysReachTheInputSinkAsEvdevCodes() throws Exception
    {
        start(DisplayServer.builder());
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.key(true, 'a');
            c.key(false, 'a');
            c.key(true, 0xFFE1);     // Shift_L
            c.key(true, '!');
            c.key(false, '!');
            c.key(false, 0xFFE1);
            c.key(true, 0xFF0D);     // Return
            c.key(true, 0xFF52);     // Up
            c.key(true, 0xFFC9);     // F12
            c.key(true, 0x20AC);     // Euro sign: not on a US keyboard, dropped
            c.key(true, 0xFF1B);     // Escape
            assertThat(input.await(20, Duration.ofSeconds(5))).containsExactly(
                RecordingInput.key(30, 1), RecordingInput.syn(),
                RecordingInput.key(30, 0), RecordingInput.syn(),
                RecordingInput.key(42, 1), RecordingInput.syn(),
                RecordingInput.key(2, 1), RecordingInput.syn(),
                RecordingInput.key(2, 0), RecordingInput.syn(),
                RecordingInput.key(42, 0), RecordingInput.syn(),
                RecordingInput.key(28, 1), RecordingInput.syn(),
                RecordingInput.key(103, 1), RecordingInput.syn(),
                RecordingInput.key(88, 1), RecordingInput.syn(),
                RecordingInput.key(1, 1), RecordingInput.syn());
        }
    }

    @Test
    void qemuExtendedKeyEventsAreAcknowledgedAndMappedFromXtScancodes() throws Exception
    {
        start(DisplayServer.builder());
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(16, -223, -258);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.extendedKeysAcknowledged).isTrue();
            c.qemuKey(true, 'q', 0x10);          // KEY_Q
            c.qemuKey(true, 0xFF52, 0xC8);       // E0 48: Up
            c.qemuKey(false, 0xFFE4, 0x9D);      // E0 1D: right Ctrl
            c.qemuKey(true, 'z', 0);             // no scancode: the keysym decides
            assertThat(input.await(8, Duration.ofSeconds(5))).containsExactly(
                RecordingInput.key(KeyMap.xtToEvdev(0x10), 1), RecordingInput.syn(),
                RecordingInput.key(KeyMap.KEY_UP, 1), RecordingInput.syn(),
                RecordingInput.key(KeyMap.KEY_RIGHTCTRL, 0), RecordingInput.syn(),
                RecordingInput.key(44, 1), RecordingInput.syn());
            assertThat(KeyMap.xtToEvdev(0x10)).isEqualTo(16);
        }
    }

    @Test
    void pointerEventsAreScaledToTheTabletRangeWithButtonsAndWheel() throws Exception
    {
        start(DisplayServer.builder());
        show(server, 0, 801, 601, new int[801 * 601]);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.pointer(0, 400, 300);             // the middle
            c.pointer(1, 800, 600);             // bottom right, left button down
            c.pointer(0, 0, 0);                 // top left, left button up
            c.pointer(4 | 8, 0, 0);             // right button and wheel up
            c.pointer(16, 0, 0);                // right up, wheel down
            final int a = InputSink.EV_ABS;
            assertThat(input.await(21, Duration.ofSeconds(5))).containsExactly(
                a + " 0 16384", a + " 1 16384", RecordingInput.syn(),
                a + " 0 32767", a + " 1 32767", RecordingInput.key(InputSink.BTN_LEFT, 1), RecordingInput.syn(),
                a + " 0 0", a + " 1 0", RecordingInput.key(InputSink.BTN_LEFT, 0), RecordingInput.syn(),
                a + " 0 0", a + " 1 0", RecordingInput.key(InputSink.BTN_RIGHT, 1),
                InputSink.EV_REL + " " + InputSink.REL_WHEEL + " 1", RecordingInput.syn(),
                a + " 0 0", a + " 1 0", RecordingInput.key(InputSink.BTN_RIGHT, 0),
                InputSink.EV_REL + " " + InputSink.REL_WHEEL + " -1", RecordingInput.syn());
        }
    }

    @Test
    void clientCutTextIsReadAndIgnored() throws Exception
    {
        start(DisplayServer.builder());
        show(server, 0, 20, 10, Pictures.noise(20, 10, 5));
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.cutText("hello clipboard");
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.pixel(3, 4)).isEqualTo(server.framebuffer(0).pixel(3, 4));
        }
    }

    /**
     * Fills every challenge with "Now is t" twice.
     */
    private static final class FixedChallenge extends Random
    {
        @Override
        public void nextBytes(final byte[] bytes)
        {
            final byte[] text = "Now is t".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            for (int i = 0; i < bytes.length; i++)
            {
                bytes[i] = text[i % 8];
            }
        }
    }
}
