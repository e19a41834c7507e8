package io.jvhost.display;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.display.RfbTestClient.Rect;
import io.jvhost.display.rfb.RfbSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static io.jvhost.display.RfbServerTest.show;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Remote resizing (rfbproto's ExtendedDesktopSize and SetDesktopSize) against a client written from rfbproto: the
 * encoding is offered, a request reaches the device (played here by the outputs listener) and is answered when the
 * guest switches (or "forwarded" after the timeout), and hostile requests get the right status while the viewer stays.
 */
@Timeout(30)
class RemoteResizeTest
{
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
    private static final int EXTENDED = RfbSession.ENCODING_EXTENDED_DESKTOP_SIZE;

    private DisplayServer server;
    private final AtomicInteger changes = new AtomicInteger();
    private volatile CountDownLatch changed = new CountDownLatch(1);

    @AfterEach
    void stop()
    {
        if (null != server)
        {
            server.close();
        }
    }

    private RfbTestClient start(final DisplayServer.Builder builder, final boolean device) throws IOException
    {
        server = builder.name("test").vnc(LOOPBACK).start();
        if (device)
        {
            server.setOutputsListener(() ->
            {
                changes.incrementAndGet();
                changed.countDown();
            });
        }
        show(server, 0, 320, 200, Pictures.noise(320, 200, 1));
        final RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake();
        c.setEncodings(16, -223, EXTENDED);
        c.requestUpdate(false);
        assertThat(c.readUpdate()).as("ExtendedDesktopSize offered: the server takes SetDesktopSize")
            .containsExactly(new Rect(0, 0, 320, 200, EXTENDED));
        assertThat(c.extendedScreens).as("one screen covering the picture")
            .isEqualTo(new int[][] {{0, 0, 0, 320, 200, 0}});
        c.requestUpdate(true);
        assertThat(c.readUpdate()).containsExactly(new Rect(0, 0, 320, 200, 16));
        return c;
    }

    /** The answer to one SetDesktopSize: a lone ExtendedDesktopSize rectangle with reason 1. */
    private static Rect answer(final RfbTestClient c) throws IOException
    {
        c.requestUpdate(true);
        final var rects = c.readUpdate();
        assertThat(rects).hasSize(1);
        return rects.getFirst();
    }

    private DisplayMode[] displayInfo()
    {
        final AtomicReference<DisplayMode[]> modes = new AtomicReference<>();
        assertThat(server.requestDisplayInfo(modes::set)).isTrue();
        return modes.get();
    }

    @Test
    void aRequestReachesTheDeviceAndIsAnsweredWhenTheGuestSwitches() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder().defaultMode(1024, 768), true))
        {
            assertThat(server.requestDisplayInfo(m -> { })).as("no viewer asked yet: the defaults apply").isFalse();
            c.setDesktopSize(800, 600);
            assertThat(changed.await(10, TimeUnit.SECONDS)).isTrue();
            final DisplayMode[] modes = displayInfo();
            final AtomicReference<byte[]> edid = new AtomicReference<>();
            assertThat(server.requestEdid(0, edid::set)).as("an EDID for the new size").isTrue();
            // Detailed timing 1 (offset 54): horizontal active in bytes 2 and 4 (high nibble), vertical in 5 and 7.
            final byte[] e = edid.get();
            assertThat((e[56] & 0xFF) | (e[58] & 0xF0) << 4).isEqualTo(800);
            assertThat((e[59] & 0xFF) | (e[61] & 0xF0) << 4).isEqualTo(600);
            assertThat(modes[0]).isEqualTo(new DisplayMode(0, 0, 800, 600, true));
            assertThat(modes[1]).as("outputs no viewer asked for").isEqualTo(new DisplayMode(800, 0, 1024, 768, true));

            // The guest switches (SET_SCANOUT): only now is the request answered, with the new size.
            c.requestUpdate(true);
            show(server, 0, 800, 600, Pictures.noise(800, 600, 2));
            assertThat(c.readUpdate()).containsExactly(new Rect(RfbSession.REASON_THIS_CLIENT, RfbSession.RESIZE_OK,
                800, 600, EXTENDED));
            assertThat(c.width).isEqualTo(800);
            assertThat(changes.get()).isEqualTo(1);
        }
    }

    @Test
    void aGuestThatDoesNotSwitchInTimeGetsTheRequestAnsweredForwardedAndLaterAServerSideChange() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder().resizeReplyTimeout(Duration.ofMillis(200)), true))
        {
            c.setDesktopSize(800, 600);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_FORWARDED, 320, 200, EXTENDED));
            assertThat(c.width).as("an unsuccessful answer does not resize the client").isEqualTo(320);

            c.requestUpdate(true);
            show(server, 0, 800, 600, Pictures.noise(800, 600, 2));
            assertThat(c.readUpdate()).containsExactly(new Rect(RfbSession.REASON_SERVER, 0, 800, 600, EXTENDED));
            c.requestUpdate(true);
            assertThat(c.readUpdate()).as("then the new picture").allMatch(r -> r.encoding() == 16);

            // The size it has now: answered at once, nothing asked of the guest.
            c.setDesktopSize(800, 600);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_OK, 800, 600, EXTENDED));
            assertThat(changes.get()).isEqualTo(1);

            // A size the guest did not follow, asked again: the guest was told once, it is not told again.
            c.setDesktopSize(1024, 768);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_FORWARDED, 800, 600, EXTENDED));
            c.setDesktopSize(1024, 768);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_FORWARDED, 800, 600, EXTENDED));
            assertThat(changes.get()).isEqualTo(2);
        }
    }

    @Test
    void oneRequestAtATimeAnotherWhileOneWaitsIsProhibited() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder(), true))
        {
            c.setDesktopSize(800, 600);
            assertThat(changed.await(10, TimeUnit.SECONDS)).isTrue();
            c.setDesktopSize(1024, 768);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_PROHIBITED, 320, 200, EXTENDED));
            c.requestUpdate(true);
            show(server, 0, 800, 600, Pictures.noise(800, 600, 2));
            assertThat(c.readUpdate()).containsExactly(new Rect(1, RfbSession.RESIZE_OK, 800, 600, EXTENDED));
            assertThat(changes.get()).isEqualTo(1);
        }
    }

    @Test
    void hostileLayoutsAndSizesAreInvalidAndTheViewerStays() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder(), true))
        {
            final int[][] cases = {
                {0, 600}, {800, 0}, {RfbSession.MAX_DESKTOP_SIZE + 1, 600}, {800, 65535}, {4096, 600}};
            for (final int[] size : cases)
            {
                c.setDesktopSize(size[0], size[1]);
                assertThat(answer(c)).as("%dx%d", size[0], size[1])
                    .isEqualTo(new Rect(1, RfbSession.RESIZE_INVALID_LAYOUT, 320, 200, EXTENDED));
            }
            c.setDesktopSize(800, 600);
            c.setDesktopSize(800, 600, new int[] {0, 0, 0, 400, 600, 0}, new int[] {1, 400, 0, 400, 600, 0});
            assertThat(answer(c)).as("two screens (and the first request still waits, answered later)")
                .isEqualTo(new Rect(1, RfbSession.RESIZE_INVALID_LAYOUT, 320, 200, EXTENDED));
            c.setDesktopSize(800, 600, new int[] {0, 10, 0, 790, 600, 0});
            assertThat(answer(c)).as("a screen not covering the picture")
                .isEqualTo(new Rect(1, RfbSession.RESIZE_INVALID_LAYOUT, 320, 200, EXTENDED));
            c.setDesktopSize(800, 600, new int[0][]);
            assertThat(answer(c)).as("no screen").isEqualTo(new Rect(1, RfbSession.RESIZE_INVALID_LAYOUT, 320, 200,
                EXTENDED));
            final int[][] many = new int[255][];
            for (int i = 0; i < many.length; i++)
            {
                many[i] = new int[] {i, 0, 0, 800, 600, 0};
            }
            c.setDesktopSize(800, 600, many);
            assertThat(answer(c)).as("255 screens").isEqualTo(new Rect(1, RfbSession.RESIZE_INVALID_LAYOUT, 320,
                200, EXTENDED));
            assertThat(changes.get()).as("only the valid request reached the device").isEqualTo(1);
            assertThat(server.viewers()).isEqualTo(1);
        }
    }

    @Test
    void aSizeBeyondTheMemoryBudgetIsOutOfResources() throws Exception
    {
        final MemoryBudget budget = new MemoryBudget("gpu0", 24L << 20);
        try (RfbTestClient c = start(DisplayServer.builder().memoryBudget(budget), true))
        {
            c.setDesktopSize(4000, 4000);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_OUT_OF_RESOURCES, 320, 200, EXTENDED));
            assertThat(changes.get()).isZero();
            assertThat(server.requestDisplayInfo(m -> { })).isFalse();
        }
    }

    @Test
    void withoutADeviceOrWithRemoteResizeOffRequestsAreProhibited() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder(), false))
        {
            c.setDesktopSize(800, 600);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_PROHIBITED, 320, 200, EXTENDED));
        }
        server.close();
        try (RfbTestClient c = start(DisplayServer.builder().remoteResize(false), true))
        {
            c.setDesktopSize(800, 600);
            assertThat(answer(c)).isEqualTo(new Rect(1, RfbSession.RESIZE_PROHIBITED, 320, 200, EXTENDED));
            assertThat(changes.get()).isZero();
        }
    }

    @Test
    void aClientThatDidNotAnnounceExtendedDesktopSizeIsIgnoredAndStays() throws Exception
    {
        server = DisplayServer.builder().name("test").vnc(LOOPBACK).start();
        server.setOutputsListener(changes::incrementAndGet);
        show(server, 0, 320, 200, Pictures.noise(320, 200, 1));
        try (RfbTestClient c = RfbTestClient.connect(server.vncAddresses().getFirst()).handshake())
        {
            c.setEncodings(16, -223);
            c.setDesktopSize(800, 600);
            c.requestUpdate(false);
            assertThat(c.readUpdate()).containsExactly(new Rect(0, 0, 320, 200, 16));
            assertThat(changes.get()).isZero();
        }
    }

    @Test
    void aClientThatAsksForSizesButNeverForUpdatesIsDisconnected() throws Exception
    {
        try (RfbTestClient c = start(DisplayServer.builder(), true))
        {
            for (int i = 0; i <= RfbSession.MAX_UNSENT_RESIZE_REPLIES; i++)
            {
                c.setDesktopSize(0, 0);
            }
            assertThat(c.closedByServer()).isTrue();
        }
    }
}
