package io.jvhost.display;

import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.jvhost.device.gpu.PixelFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One client's misbehaviour stays its own: garbage closes only that client, and a client that stops reading neither
 * slows the GPU's updates nor the other viewers.
 */
@Timeout(60)
class RobustnessTest
{
    private DisplayServer server;

    @AfterEach
    void stop()
    {
        if (null != server)
        {
            server.close();
        }
    }

    @Test
    void garbageFromOneVncClientClosesOnlyThatClient() throws Exception
    {
        server = DisplayServer.builder().vnc(new InetSocketAddress("127.0.0.1", 0)).start();
        final InetSocketAddress vnc = server.vncAddresses().getFirst();
        RfbServerTest.show(server, 0, 50, 40, Pictures.noise(50, 40, 1));
        try (RfbTestClient good = RfbTestClient.connect(vnc).handshake())
        {
            good.setEncodings(16);
            good.requestUpdate(false);
            good.readUpdate();

            // A bad version string, an unknown message type, a SetPixelFormat with a colour map, a huge cut text.
            try (Socket s = new Socket())
            {
                s.connect(vnc);
                s.setSoTimeout(5000);
                s.getInputStream().readNBytes(12);
                s.getOutputStream().write("HTTP/1.1 GET".getBytes(StandardCharsets.US_ASCII));
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            for (final byte[] garbage : new byte[][] {
                {(byte)200, 1, 2, 3},
                {0, 0, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                {6, 0, 0, 0, 0x7F, (byte)0xFF, (byte)0xFF, (byte)0xFF},
                {(byte)255, 7}})
            {
                try (RfbTestClient bad = RfbTestClient.connect(vnc).handshake())
                {
                    bad.raw(garbage);
                    assertThat(bad.closedByServer()).isTrue();
                }
            }
            final int[] next = Pictures.noise(50, 40, 2);
            RfbServerTest.paint(server, 0, 0, 0, 50, 40, next);
            good.requestUpdate(true);
            good.readUpdate();
            assertThat(good.pixels).isEqualTo(next);
        }
    }

    /** A write that has not finished for this long to a viewer that reads nothing: its socket is full. */
    private static final Duration STUCK = Duration.ofMillis(200);

    @Test
    void aClientThatStopsReadingSlowsNeitherTheGpuNorOtherViewers() throws Exception
    {
        server = DisplayServer.builder().vnc(new InetSocketAddress("127.0.0.1", 0)).start();
        final InetSocketAddress vnc = server.vncAddresses().getFirst();
        final int w = 640;
        final int h = 480;
        server.setScanout(0, w, h);
        try (RfbTestClient stuck = RfbTestClient.connect(vnc).handshake();
             RfbTestClient fast = RfbTestClient.connect(vnc).handshake())
        {
            // The stuck client asks for raw updates (1.2 MB each) and never reads them: its socket fills up.
            stuck.setEncodings(0);
            stuck.requestUpdate(false);
            fast.setEncodings(16);
            final int[][] frames = {Pictures.noise(w, h, 3), Pictures.noise(w, h, 4)};
            // First make it stuck for real: new frames and requests until its session sits in one write.
            final long stuckBy = System.nanoTime() + 10_000_000_000L;
            for (int i = 0; server.viewersStuckFor(STUCK) == 0 && System.nanoTime() < stuckBy; i++)
            {
                server.updateScanout(0, 0, 0, w, h, MemorySegment.ofArray(frames[i & 1]), 0, w * 4,
                    PixelFormat.B8G8R8X8);
                stuck.requestUpdate(true);
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000); // polls the state above
            }
            assertThat(server.viewersStuckFor(STUCK)).as("the stuck viewer's session waits in a write").isEqualTo(1);
            long worst = 0;
            final long start = System.nanoTime();
            for (int i = 0; i < 200; i++)
            {
                final int[] frame = frames[i & 1];
                final long t0 = System.nanoTime();
                server.updateScanout(0, 0, 0, w, h, MemorySegment.ofArray(frame), 0, w * 4, PixelFormat.B8G8R8X8);
                worst = Math.max(worst, System.nanoTime() - t0);
                if (i % 50 == 0)
                {
                    stuck.requestUpdate(true);
                }
            }
            final long total = System.nanoTime() - start;
            // 200 full frames are 240 MB of copying: well under a second here; a blocked viewer would hang it.
            assertThat(total / 1_000_000).as("200 full-frame updates took %d ms", total / 1_000_000)
                .isLessThan(5000);
            assertThat(worst / 1_000_000).as("slowest updateScanout").isLessThan(1000);

            fast.requestUpdate(false);
            fast.readUpdate();
            assertThat(fast.pixels).as("the other viewer has the latest frame").isEqualTo(frames[1]);
            assertThat(server.viewers()).isEqualTo(2);
            assertThat(server.viewersStuckFor(STUCK)).as("still stuck: it never read").isEqualTo(1);
        }
    }
}
