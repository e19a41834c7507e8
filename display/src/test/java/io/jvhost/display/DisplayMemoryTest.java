package io.jvhost.display;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;

import io.jvhost.device.MemoryBudget;
import io.jvhost.display.rfb.Framebuffer;
import io.jvhost.display.rfb.RfbSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.jvhost.display.RfbServerTest.paint;
import static io.jvhost.display.RfbServerTest.show;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * jvhost's own display within the device's memory budget: framebuffers hold pixels only while enabled and only what
 * fits, a viewer's buffers stay a few bands whatever the picture's size, and a viewer the budget cannot hold is
 * disconnected alone.
 */
@Timeout(60)
class DisplayMemoryTest
{
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    private DisplayServer server;

    @AfterEach
    void stop()
    {
        if (null != server)
        {
            server.close();
        }
    }

    private DisplayServer start(final MemoryBudget budget) throws IOException
    {
        server = DisplayServer.builder().name("test").vnc(LOOPBACK).memoryBudget(budget).start();
        return server;
    }

    @Test
    void framebufferPixelsAreReservedWhileShownAndOneThatDoesNotFitIsShownBlack() throws Exception
    {
        final MemoryBudget budget = new MemoryBudget("gpu0", 4 << 20);
        start(budget);
        assertThat(budget.used()).as("a scanout never shown costs nothing").isZero();

        assertThat(server.setScanout(0, 800, 600)).isTrue();
        assertThat(budget.used()).isEqualTo(800 * 600 * 4);
        paint(server, 0, 0, 0, 1, 1, new int[] {0x123456});
        assertThat(server.framebuffer(0).pixel(0, 0)).isEqualTo(0x123456);

        assertThat(server.setScanout(1, 1024, 1024)).as("4 MiB more do not fit").isFalse();
        final Framebuffer refused = server.framebuffer(1);
        assertThat(refused.enabled()).isFalse();
        assertThat(refused.width()).as("the last size, shown black").isEqualTo(Framebuffer.DEFAULT_WIDTH);
        assertThat(budget.used()).isEqualTo(800 * 600 * 4);

        assertThat(server.setScanout(0, 0, 0)).isTrue();
        assertThat(budget.used()).as("a disabled scanout gives its pixels back").isZero();
        assertThat(server.framebuffer(0).pixel(0, 0)).isZero();
        assertThat(server.setScanout(1, 1024, 1024)).isTrue();
        server.close();
        assertThat(budget.used()).isZero();
    }

    @ParameterizedTest(name = "encoding {0}")
    @ValueSource(ints = {0, 6, 16})
    void aPictureOfManyBandsArrivesWholeInBandsOfTheSameEncoding(final int encoding) throws Exception
    {
        final MemoryBudget budget = new MemoryBudget("gpu0", 64 << 20);
        start(budget);
        final int w = 1000;
        final int h = 700;
        final int[] picture = Pictures.mixed(w, h, 5);
        show(server, 0, w, h, picture);
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(encoding);
            c.requestUpdate(false);
            final List<RfbTestClient.Rect> rects = c.readUpdate();
            final int rows = RfbSession.BAND_PIXELS / w / 64 * 64;
            assertThat(rects).containsExactly(new RfbTestClient.Rect(0, 0, w, rows, encoding),
                new RfbTestClient.Rect(0, rows, w, rows, encoding),
                new RfbTestClient.Rect(0, 2 * rows, w, h - 2 * rows, encoding));
            assertThat(c.pixels).isEqualTo(picture);
            final long viewer = budget.used() - 4L * w * h;
            assertThat(viewer).as("the viewer's buffers, for a %d-pixel picture", w * h)
                .isLessThan(RfbSession.SESSION_BYTES + 8L * RfbSession.BAND_PIXELS + 4L * RfbSession.SEND_BYTES);
        }
    }

    @Test
    void aViewerTheBudgetCannotHoldIsDisconnectedAloneAndTheNextOneIsServed() throws Exception
    {
        final MemoryBudget budget = new MemoryBudget("gpu0", 64 << 20);
        start(budget);
        final int w = 200;
        final int h = 150;
        final int[] picture = Pictures.mixed(w, h, 9);
        show(server, 0, w, h, picture);
        try (RfbTestClient a = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            a.setEncodings(0);
            a.requestUpdate(false);
            a.readUpdate();
            assertThat(a.pixels).isEqualTo(picture);

            // The rest of the device takes all but what a viewer needs to connect: its first picture does not fit.
            final long squeeze = budget.available() - (RfbSession.SESSION_BYTES + 3 * 64 * 1024 + 1000);
            budget.reserve(squeeze, "the rest of the device");
            try (RfbTestClient b = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
            {
                b.setEncodings(0);
                b.requestUpdate(false);
                assertThat(b.closedByServer()).as("disconnected for want of memory").isTrue();
            }
            awaitViewers(1);

            final int[] patch = Pictures.noise(4, 4, 1);
            paint(server, 0, 8, 8, 4, 4, patch);
            a.requestUpdate(true);
            assertThat(a.readUpdate()).containsExactly(new RfbTestClient.Rect(8, 8, 4, 4, 0));

            budget.release(squeeze);
            try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
            {
                c.setEncodings(16);
                c.requestUpdate(false);
                c.readUpdate();
                assertThat(c.pixels[8 * w + 8]).isEqualTo(patch[0]);
            }
        }
        awaitViewers(0);
        assertThat(budget.used()).as("every viewer gave its buffers back").isEqualTo(4L * w * h);
    }

    private void awaitViewers(final int count) throws InterruptedException
    {
        final long end = System.nanoTime() + 10_000_000_000L;
        while (server.viewers() != count && System.nanoTime() < end)
        {
            Thread.sleep(10);
        }
        assertThat(server.viewers()).isEqualTo(count);
    }
}
