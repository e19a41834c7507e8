package io.jvhost.display;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.Random;

import io.jvhost.display.rfb.ClientPixelFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guest's cursor for viewers (RFB Cursor pseudo-encoding, -239): the pixels and mask a client decodes match the
 * defined 64×64 B,G,R,A image in its own pixel format, hiding sends a transparent cursor, a cursor change alone
 * answers a pending request, clients that did not announce -239 get nothing, and the GPU worker's calls allocate
 * nothing once warm. Clients that announce VMware's cursor pseudo-encoding (noVNC) get its alpha cursor instead: the
 * image's R,G,B,A bytes exactly, whatever their pixel format, and a 1×1 transparent one when hidden.
 */
@Timeout(30)
class CursorTest
{
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
    private static final int CURSOR = -239;
    private static final int VMWARE_CURSOR = 0x574d5664;
    /** 16 bits a pixel, R5 G6 B5, little-endian. */
    private static final ClientPixelFormat RGB565 = new ClientPixelFormat(16, 16, false, 31, 63, 31, 11, 5, 0);

    private DisplayServer server;

    @AfterEach
    void stop()
    {
        if (null != server)
        {
            server.close();
        }
    }

    private void start(final DisplayServer.Builder builder) throws IOException
    {
        server = builder.name("test").start();
        RfbServerTest.show(server, 0, 96, 64, Pictures.noise(96, 64, 9));
    }

    private RfbTestClient connect(final int index) throws IOException
    {
        return RfbTestClient.connect(server.vncAddresses().get(index)).handshake();
    }

    /**
     * A cursor with opaque pixels (alpha 128..255) in a blob between (6, 4) and (45, 52) and translucent ones
     * (alpha 0..127, a "shadow") around it, random colours everywhere, as {@code 0xAARRGGBB}.
     */
    private static int[] arrow(final long seed)
    {
        final Random random = new Random(seed);
        final int[] argb = new int[64 * 64];
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                final boolean inside = x >= 6 && x <= 45 && y >= 4 && y <= 52 && (x - 6) <= (y - 4) + 3;
                final boolean corner = x == 45 && y == 52 || x == 6 && y == 4;
                final int alpha = corner ? 255 : inside ? 128 + random.nextInt(128) : random.nextInt(128);
                argb[y * 64 + x] = alpha << 24 | random.nextInt(0x100_0000);
            }
        }
        return argb;
    }

    /**
     * @return the image as the guest's cursor resource holds it: B,G,R,A bytes.
     */
    private static MemorySegment bgra(final int[] argb)
    {
        final byte[] bytes = new byte[4 * argb.length];
        for (int i = 0; i < argb.length; i++)
        {
            bytes[4 * i] = (byte)argb[i];
            bytes[4 * i + 1] = (byte)(argb[i] >>> 8);
            bytes[4 * i + 2] = (byte)(argb[i] >>> 16);
            bytes[4 * i + 3] = (byte)(argb[i] >>> 24);
        }
        return MemorySegment.ofArray(bytes);
    }

    /**
     * @return {@code rgb} after a trip through format {@code f} and back, as the test client decodes it.
     */
    private static int seenAs(final ClientPixelFormat f, final int rgb)
    {
        final int v = f.translate(rgb);
        final int r = (v >>> f.redShift() & f.redMax()) * 255 / f.redMax();
        final int g = (v >>> f.greenShift() & f.greenMax()) * 255 / f.greenMax();
        final int b = (v >>> f.blueShift() & f.blueMax()) * 255 / f.blueMax();
        return r << 16 | g << 8 | b;
    }

    /**
     * Checks the client's last cursor against {@code argb} with hotspot ({@code hotX}, {@code hotY}): every pixel
     * of the 64×64 image is in the rectangle and shown exactly when its alpha is at least 128, with its colour.
     */
    private static void assertCursor(final RfbTestClient c, final ClientPixelFormat f, final int[] argb,
        final int hotX, final int hotY)
    {
        final int left = hotX - c.cursorHotX;
        final int top = hotY - c.cursorHotY;
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                final int pixel = argb[y * 64 + x];
                final boolean opaque = pixel >>> 24 >= 128;
                final int cx = x - left;
                final int cy = y - top;
                if (cx < 0 || cy < 0 || cx >= c.cursorWidth || cy >= c.cursorHeight)
                {
                    assertThat(opaque).as("opaque pixel (%d, %d) outside the cursor rectangle", x, y).isFalse();
                    continue;
                }
                final int i = cy * c.cursorWidth + cx;
                assertThat(c.cursorMask[i]).as("mask at (%d, %d), alpha %d", x, y, pixel >>> 24).isEqualTo(opaque);
                if (opaque)
                {
                    assertThat(c.cursorPixels[i]).as("colour at (%d, %d)", x, y)
                        .isEqualTo(seenAs(f, pixel & 0xFF_FFFF));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"server", "novnc", "big", "rgb565"})
    void pixelsAndMaskMatchTheDefinedImageInTheClientsPixelFormat(final String formatName) throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final ClientPixelFormat f = switch (formatName)
        {
            case "novnc" -> RfbServerTest.NOVNC;
            case "big" -> RfbServerTest.BIG;
            case "rgb565" -> RGB565;
            default -> ClientPixelFormat.SERVER;
        };
        final int[] image = arrow(1);
        server.defineCursor(0, 30, 20, 10, 7, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setPixelFormat(f);
            c.setEncodings(16, CURSOR);
            c.requestUpdate(false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).contains(CURSOR, 16);
            // Cropped to the opaque pixels, (6, 4) to (45, 52), which hold the hotspot.
            assertThat(c.cursorWidth).isEqualTo(40);
            assertThat(c.cursorHeight).isEqualTo(49);
            assertThat(c.cursorHotX).isEqualTo(10 - 6);
            assertThat(c.cursorHotY).isEqualTo(7 - 4);
            assertCursor(c, f, image, 10, 7);
        }
    }

    @Test
    void aHotspotOutsideTheOpaquePixelsWidensTheRectangle() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] image = new int[64 * 64];
        for (int y = 20; y < 30; y++)
        {
            for (int x = 20; x < 30; x++)
            {
                image[y * 64 + x] = 0xFF00_0000 | x << 16 | y;
            }
        }
        server.defineCursor(0, 0, 0, 2, 3, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0, CURSOR);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.cursorWidth).isEqualTo(28);
            assertThat(c.cursorHeight).isEqualTo(27);
            assertThat(c.cursorHotX).isZero();
            assertThat(c.cursorHotY).isZero();
            assertCursor(c, ClientPixelFormat.SERVER, image, 2, 3);
        }
    }

    @Test
    void aCursorChangeAloneAnswersAPendingIncrementalRequest() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0, CURSOR);
            c.requestUpdate(false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsOnly(0);
            c.requestUpdate(true);
            final int[] image = arrow(2);
            server.defineCursor(0, 5, 5, 10, 7, bgra(image));
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertCursor(c, ClientPixelFormat.SERVER, image, 10, 7);
        }
    }

    @Test
    void aClientThatAnnouncesTheCursorLaterGetsTheCurrentOne() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] image = arrow(3);
        server.defineCursor(0, 5, 5, 10, 7, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0);
            c.requestUpdate(false);
            c.readUpdate();
            c.setEncodings(0, CURSOR);
            c.requestUpdate(true);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertCursor(c, ClientPixelFormat.SERVER, image, 10, 7);
        }
    }

    @Test
    void hidingSendsATransparentCursorAndShowingBringsItBack() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] image = arrow(4);
        server.defineCursor(0, 5, 5, 10, 7, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setPixelFormat(RfbServerTest.NOVNC);
            c.setEncodings(6, CURSOR);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.cursorUpdates).isEqualTo(1);

            c.requestUpdate(true);
            server.moveCursor(0, 5, 5, false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertThat(c.cursorMask).isNotEmpty().containsOnly(false);

            c.requestUpdate(true);
            server.moveCursor(0, 8, 9, true);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertCursor(c, RfbServerTest.NOVNC, image, 10, 7);
        }
    }

    @Test
    void movesThatKeepTheCursorShownSendNothing() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        server.defineCursor(0, 5, 5, 10, 7, bgra(arrow(5)));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0, CURSOR);
            c.requestUpdate(false);
            c.readUpdate();
            c.requestUpdate(true);
            for (int i = 0; i < 100; i++)
            {
                server.moveCursor(0, i, i / 2, true);
            }
            RfbServerTest.paint(server, 0, 3, 4, 2, 2, new int[4]);
            assertThat(c.readUpdate()).containsExactly(new RfbTestClient.Rect(3, 4, 2, 2, 0));
            assertThat(c.cursorUpdates).isEqualTo(1);
        }
    }

    @Test
    void clientsWithoutTheCursorEncodingGetNoCursor() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        server.defineCursor(0, 5, 5, 10, 7, bgra(arrow(6)));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0, -223);
            c.requestUpdate(false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsOnly(0);
            // A pending request: cursor changes must not answer it, the damage that follows does.
            c.requestUpdate(true);
            server.defineCursor(0, 5, 5, 1, 1, bgra(arrow(7)));
            server.moveCursor(0, 5, 5, false);
            server.moveCursor(0, 5, 5, true);
            RfbServerTest.paint(server, 0, 10, 20, 3, 3, new int[9]);
            assertThat(c.readUpdate()).containsExactly(new RfbTestClient.Rect(10, 20, 3, 3, 0));
            assertThat(c.cursorUpdates).isZero();
        }
    }

    @Test
    void theCursorFollowsTheGuestToAnotherScanout() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK, 0).vnc(LOOPBACK, 1));
        RfbServerTest.show(server, 1, 64, 48, Pictures.noise(64, 48, 10));
        final int[] image = arrow(8);
        server.defineCursor(0, 5, 5, 10, 7, bgra(image));
        try (RfbTestClient first = connect(0); RfbTestClient second = connect(1))
        {
            for (final RfbTestClient c : new RfbTestClient[] {first, second})
            {
                c.setEncodings(0, CURSOR);
                c.requestUpdate(false);
                c.readUpdate();
                c.requestUpdate(true);
            }
            assertThat(first.cursorUpdates).isEqualTo(1);
            assertThat(second.cursorUpdates).isZero();

            server.moveCursor(1, 20, 20, true);
            assertThat(second.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertCursor(second, ClientPixelFormat.SERVER, image, 10, 7);
            assertThat(first.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertThat(first.cursorMask).containsOnly(false);
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // VMware alpha cursor (0x574d5664, type 1): what noVNC draws right.

    /**
     * Checks the client's last VMware cursor against {@code argb} with hotspot ({@code hotX}, {@code hotY}): every
     * pixel of the 64×64 image that is not fully transparent is in the rectangle, and every pixel in the rectangle is
     * sent as the bytes R, G, B, A of the image.
     */
    private static void assertVMwareCursor(final RfbTestClient c, final int[] argb, final int hotX, final int hotY)
    {
        assertThat(c.cursorRgba).hasSize(4 * c.cursorWidth * c.cursorHeight);
        final int left = hotX - c.cursorHotX;
        final int top = hotY - c.cursorHotY;
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                final int pixel = argb[y * 64 + x];
                final int cx = x - left;
                final int cy = y - top;
                if (cx < 0 || cy < 0 || cx >= c.cursorWidth || cy >= c.cursorHeight)
                {
                    assertThat(pixel >>> 24).as("alpha of (%d, %d) outside the cursor rectangle", x, y).isZero();
                    continue;
                }
                final int i = 4 * (cy * c.cursorWidth + cx);
                assertThat(new byte[] {c.cursorRgba[i], c.cursorRgba[i + 1], c.cursorRgba[i + 2], c.cursorRgba[i + 3]})
                    .as("R,G,B,A of (%d, %d)", x, y)
                    .containsExactly((byte)(pixel >>> 16), (byte)(pixel >>> 8), (byte)pixel, (byte)(pixel >>> 24));
            }
        }
    }

    /**
     * @return the R,G,B,A bytes the client got for the image's pixel ({@code x}, {@code y}).
     */
    private static byte[] rgbaAt(final RfbTestClient c, final int hotX, final int hotY, final int x, final int y)
    {
        final int i = 4 * ((y - hotY + c.cursorHotY) * c.cursorWidth + x - hotX + c.cursorHotX);
        return java.util.Arrays.copyOfRange(c.cursorRgba, i, i + 4);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"server", "novnc", "rgb565"})
    void theVMwareAlphaCursorCarriesTheImagesColoursAndAlphaExactly(final String formatName) throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final ClientPixelFormat f = switch (formatName)
        {
            case "novnc" -> RfbServerTest.NOVNC;
            case "rgb565" -> RGB565;
            default -> ClientPixelFormat.SERVER;
        };
        final int[] image = arrow(10);
        image[7 * 64 + 10] = 0xFFFF_0000;
        image[20 * 64 + 12] = 0xFF00_FF00;
        image[30 * 64 + 20] = 0x4000_00FF;
        image[40 * 64 + 2] = 0x0112_3456;
        server.defineCursor(0, 30, 20, 10, 7, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setPixelFormat(f);
            // noVNC's list, shortened: the VMware cursor before -239.
            c.setEncodings(16, 6, 0, -223, -258, VMWARE_CURSOR, CURSOR);
            c.requestUpdate(false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding)
                .contains(VMWARE_CURSOR, 16).doesNotContain(CURSOR);
            assertVMwareCursor(c, image, 10, 7);
            assertThat(rgbaAt(c, 10, 7, 10, 7)).as("red").containsExactly(0xFF, 0, 0, 0xFF);
            assertThat(rgbaAt(c, 10, 7, 12, 20)).as("green").containsExactly(0, 0xFF, 0, 0xFF);
            assertThat(rgbaAt(c, 10, 7, 20, 30)).as("translucent blue").containsExactly(0, 0, 0xFF, 0x40);
            assertThat(rgbaAt(c, 10, 7, 2, 40)).as("nearly transparent").containsExactly(0x12, 0x34, 0x56, 0x01);
            assertThat(c.vmwareCursorUpdates).isEqualTo(1);
            assertThat(c.cursorUpdates).isZero();
        }
    }

    @Test
    void theVMwareCursorIsCroppedToThePixelsNotFullyTransparentAndTheHotspot() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] image = new int[64 * 64];
        for (int y = 20; y < 30; y++)
        {
            for (int x = 20; x < 30; x++)
            {
                image[y * 64 + x] = 0xFF00_0000 | x << 16 | y;
            }
        }
        // A faint shadow pixel widens the rectangle; colour in fully transparent pixels does not.
        image[45 * 64 + 50] = 0x0100_0000;
        image[60 * 64 + 60] = 0x00FF_FFFF;
        server.defineCursor(0, 0, 0, 2, 3, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setEncodings(0, VMWARE_CURSOR);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.cursorWidth).isEqualTo(49);
            assertThat(c.cursorHeight).isEqualTo(43);
            assertThat(c.cursorHotX).isZero();
            assertThat(c.cursorHotY).isZero();
            assertVMwareCursor(c, image, 2, 3);
        }
    }

    @ParameterizedTest(name = "announced {0}")
    @ValueSource(strings = {"VMware first", "Cursor first"})
    void theVMwareCursorIsPreferredWhenBothAreAnnounced(final String order) throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] first = arrow(11);
        server.defineCursor(0, 5, 5, 10, 7, bgra(first));
        try (RfbTestClient c = connect(0))
        {
            if (order.startsWith("VMware"))
            {
                c.setEncodings(0, VMWARE_CURSOR, CURSOR);
            }
            else
            {
                c.setEncodings(0, CURSOR, VMWARE_CURSOR);
            }
            c.requestUpdate(false);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsOnly(0, VMWARE_CURSOR);
            assertVMwareCursor(c, first, 10, 7);

            c.requestUpdate(true);
            final int[] second = arrow(12);
            server.defineCursor(0, 5, 5, 3, 4, bgra(second));
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(VMWARE_CURSOR);
            assertVMwareCursor(c, second, 3, 4);
            assertThat(c.vmwareCursorUpdates).isEqualTo(2);
            assertThat(c.cursorUpdates).isZero();

            // Dropping the VMware cursor: the current one comes again as -239.
            c.setEncodings(0, CURSOR);
            c.requestUpdate(true);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(CURSOR);
            assertCursor(c, ClientPixelFormat.SERVER, second, 3, 4);
            assertThat(c.vmwareCursorUpdates).isEqualTo(2);
        }
    }

    @Test
    void hidingSendsATransparentVMwareCursorAndShowingBringsItBack() throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final int[] image = arrow(13);
        server.defineCursor(0, 5, 5, 10, 7, bgra(image));
        try (RfbTestClient c = connect(0))
        {
            c.setPixelFormat(RfbServerTest.NOVNC);
            c.setEncodings(6, VMWARE_CURSOR, CURSOR);
            c.requestUpdate(false);
            c.readUpdate();
            assertThat(c.vmwareCursorUpdates).isEqualTo(1);

            c.requestUpdate(true);
            server.moveCursor(0, 5, 5, false);
            assertThat(c.readUpdate()).containsExactly(new RfbTestClient.Rect(0, 0, 1, 1, VMWARE_CURSOR));
            assertThat(c.cursorRgba).containsExactly(0, 0, 0, 0);

            c.requestUpdate(true);
            server.moveCursor(0, 8, 9, true);
            assertThat(c.readUpdate()).extracting(RfbTestClient.Rect::encoding).containsExactly(VMWARE_CURSOR);
            assertVMwareCursor(c, image, 10, 7);
            assertThat(c.cursorUpdates).isZero();
        }
    }

    @ParameterizedTest(name = "encoding {0}")
    @ValueSource(ints = {CURSOR, VMWARE_CURSOR})
    void definingShowingAndHidingAllocatesNothingOnTheGpuWorkersThreadOnceWarm(final int encoding) throws Exception
    {
        start(DisplayServer.builder().vnc(LOOPBACK));
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        final long me = Thread.currentThread().threadId();
        try (Arena arena = Arena.ofConfined(); RfbTestClient c = connect(0))
        {
            // Off-heap, as GpuDevice's cursor image is; a session that draws the cursor listens.
            final MemorySegment image = arena.allocate(64 * 64 * 4, 64);
            image.copyFrom(bgra(arrow(9)));
            c.setEncodings(0, encoding);
            c.requestUpdate(false);
            c.readUpdate();
            long least = Long.MAX_VALUE;
            for (int run = 0; run < 8; run++)
            {
                final long before = threads.getThreadAllocatedBytes(me);
                for (int i = 0; i < 2_000; i++)
                {
                    server.defineCursor(0, i & 511, i & 255, i & 63, i & 31, image);
                    server.moveCursor(0, i & 511, i & 255, (i & 4) == 0);
                    server.moveCursor(0, i & 511, 7, (i & 4) == 0);
                }
                least = Math.min(least, threads.getThreadAllocatedBytes(me) - before);
            }
            assertThat(least).as("least bytes allocated by 2000 defines and 4000 moves").isZero();
        }
    }
}
