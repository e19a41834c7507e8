package io.jvhost.vhostuser.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The display against the QEMU emulator: pixels arrive exactly, a slow or stalled QEMU never blocks the caller and
 * gets the latest pixels when it reads again, SCANOUT always precedes UPDATE, close always stops the writer.
 */
@Timeout(60)
class DisplayFlowTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private QemuDisplayEmulator qemu;
    private VhostUserGpuDisplay display;
    private Arena arena = Arena.ofShared();

    private void connect(final QemuDisplayEmulator.Builder emulator, final int maxUpdateBytes) throws Exception
    {
        qemu = emulator.start();
        final int fd = qemu.takeBackendFd();
        display = VhostUserGpuDisplay.builder(UnixSocket.adopt(fd)).name("flow").maxUpdateBytes(maxUpdateBytes)
            .start();
    }

    @AfterEach
    void close()
    {
        if (null != display)
        {
            display.close();
        }
        if (null != qemu)
        {
            qemu.close();
        }
        arena.close();
    }

    /**
     * A B8G8R8X8 frame whose pixel (x, y) is {@code seed ^ (y << 12 | x)} with X = 0xFF.
     */
    private MemorySegment frame(final int width, final int height, final int seed)
    {
        final MemorySegment f = arena.allocate(4L * width * height, 64);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                f.set(ValueLayout.JAVA_INT, 4L * (y * width + x), 0xFF000000 | ((seed ^ (y << 12 | x)) & 0xFFFFFF));
            }
        }
        return f;
    }

    private static int expected(final int x, final int y, final int seed)
    {
        return (seed ^ (y << 12 | x)) & 0xFFFFFF;
    }

    private boolean framebufferShows(final int scanout, final int width, final int height, final int seed)
    {
        final byte[] fb = qemu.framebuffer(scanout);
        if (null == fb || fb.length != width * height * 4)
        {
            return false;
        }
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final int o = (y * width + x) * 4;
                final int v = (fb[o] & 0xFF) | (fb[o + 1] & 0xFF) << 8 | (fb[o + 2] & 0xFF) << 16;
                if (v != expected(x, y, seed))
                {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Waits until a send found QEMU's (paused) socket full: the writer is stalled with the rest pending.
     */
    private void awaitWriterStalled()
    {
        assertThat(Await.until(() -> display.socketFullCount() > 0, WAIT)).as("the writer stalled on a full socket")
            .isTrue();
    }

    /**
     * Waits until QEMU has read every message the display sent and the display has nothing more to send.
     */
    private void awaitQemuReadEverything()
    {
        assertThat(Await.until(() -> qemu.messages() == display.messagesSent(), WAIT)).isTrue();
    }

    @Test
    void fullFramesArriveExactlyInBandsAfterTheirScanout() throws Exception
    {
        connect(QemuDisplayEmulator.builder(), 64 * 1024);
        display.setScanout(0, 640, 480);
        display.updateScanout(0, 0, 0, 640, 480, frame(640, 480, 0x123456), 0, 640 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> framebufferShows(0, 640, 480, 0x123456), WAIT)).isTrue();
        assertThat(qemu.surfaceUpdates(0)).as("480 rows in bands of 25").isEqualTo(20);
        assertThat(qemu.violations()).isEmpty();
        final java.util.List<String> trace = qemu.trace();
        assertThat(trace.getFirst()).isEqualTo("GET_PROTOCOL_FEATURES");
        final int scanout = trace.indexOf("SCANOUT(0,640x480)");
        final int update = trace.indexOf("UPDATE(0,0,0,640x25)");
        assertThat(scanout).as("SCANOUT sent").isPositive();
        assertThat(update).as("bands of 64 KiB: 25 rows of 2560 bytes, after the SCANOUT").isGreaterThan(scanout);
        assertThat(trace).contains("UPDATE(0,0,475,640x5)");
        assertThat(qemu.negotiatedFeatures()).isEqualTo(1);
    }

    @Test
    void nothingButTheHandshakeGoesOutBeforeQemuAnsweredItsProtocolFeatures() throws Exception
    {
        connect(QemuDisplayEmulator.builder().featuresReplyDelay(Duration.ofMillis(300)), 64 * 1024);
        display.setScanout(0, 64, 16);
        display.updateScanout(0, 0, 0, 64, 16, frame(64, 16, 0x42), 0, 64 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> framebufferShows(0, 64, 16, 0x42), WAIT)).isTrue();
        final java.util.List<String> trace = qemu.trace();
        assertThat(trace.subList(0, 3)).as("QEMU's C back-end waits for the answer too")
            .containsExactly("GET_PROTOCOL_FEATURES", "SET_PROTOCOL_FEATURES(0x1)", "SCANOUT(0,64x16)");
        assertThat(qemu.negotiatedFeatures()).isEqualTo(1);
    }

    @Test
    void aSmallUpdateOnAnIdleSocketIsSentBeforeTheCallReturnsAndAFrameByTheWriter() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(1920, 1080)), 1 << 20);
        display.setScanout(0, 1920, 1080);
        // The handshake and the SCANOUT are over: the socket is idle.
        assertThat(qemu.await(() -> display.messagesSent(GpuRequest.SET_PROTOCOL_FEATURES) == 1
            && display.messagesSent(GpuRequest.SCANOUT) == 1, WAIT)).isTrue();
        final MemorySegment cell = frame(64, 16, 0x00C0DE);
        for (int i = 0; i < 100; i++)
        {
            final long before = display.messagesSent(GpuRequest.UPDATE);
            display.updateScanout(0, 64 * (i % 30), 16 * (i % 67), 64, 16, cell, 0, 64 * 4, PixelFormat.B8G8R8X8);
            // Sent by this thread, with no thread hop: counted before updateScanout returned.
            assertThat(display.messagesSent(GpuRequest.UPDATE)).as("update %d", i).isEqualTo(before + 1);
            final long k = before + 1;
            assertThat(qemu.await(() -> qemu.messages(GpuRequest.UPDATE) >= k, WAIT)).isTrue();
        }
        // A whole frame (8 MB) is more than a caller sends: the writer thread sends its bands.
        display.updateScanout(0, 0, 0, 1920, 1080, frame(1920, 1080, 0x445566), 0, 1920 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> framebufferShows(0, 1920, 1080, 0x445566), WAIT)).isTrue();
        assertThat(qemu.surfaceUpdates(0)).isEqualTo(100 + 8);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void aNarrowUpdateIsGatheredRowByRowFromTheShadow() throws Exception
    {
        connect(QemuDisplayEmulator.builder(), 1 << 20);
        display.setScanout(0, 640, 480);
        display.updateScanout(0, 0, 0, 640, 480, frame(640, 480, 0x010203), 0, 640 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> framebufferShows(0, 640, 480, 0x010203), WAIT)).isTrue();
        // A 3-pixel-wide column of all 480 rows: one iovec per row after the message prefix.
        final MemorySegment column = frame(640, 480, 0x0F0F0F);
        display.updateScanout(0, 300, 0, 3, 480, column, 4L * 300, 640 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> qemu.trace().contains("UPDATE(0,300,0,3x480)"), WAIT)).isTrue();
        final byte[] fb = qemu.framebuffer(0);
        for (int y = 0; y < 480; y++)
        {
            for (int x = 298; x < 304; x++)
            {
                final int seed = x >= 300 && x < 303 ? 0x0F0F0F : 0x010203;
                final int o = 4 * (y * 640 + x);
                final int rgb = (fb[o + 2] & 0xFF) << 16 | (fb[o + 1] & 0xFF) << 8 | fb[o] & 0xFF;
                assertThat(rgb).as("pixel (%d, %d)", x, y).isEqualTo(expected(x, y, seed));
            }
        }
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void partialUpdatesAndTwoScanoutsComposeIndependently() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(320, 200),
            QemuDisplayEmulator.Mode.of(160, 100)), 1 << 20);
        final MemorySegment a = frame(320, 200, 0xA0A0A0);
        final MemorySegment b = frame(160, 100, 0x0B0B0B);
        display.setScanout(0, 320, 200);
        display.setScanout(1, 160, 100);
        display.updateScanout(0, 0, 0, 320, 100, a, 0, 320 * 4, PixelFormat.B8G8R8X8);
        display.updateScanout(1, 0, 0, 160, 100, b, 0, 160 * 4, PixelFormat.B8G8R8X8);
        display.updateScanout(0, 0, 100, 320, 100, a, 100L * 320 * 4, 320 * 4, PixelFormat.B8G8R8X8);
        assertThat(qemu.await(() -> qemu.messages(GpuRequest.UPDATE) >= 2, WAIT)).isTrue();
        assertThat(qemu.await(() -> framebufferShows(0, 320, 200, 0xA0A0A0) && framebufferShows(1, 160, 100,
            0x0B0B0B), WAIT)).isTrue();
        assertThat(qemu.violations()).isEmpty();

        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        assertThat(display.requestDisplayInfo(info::complete)).isTrue();
        final DisplayMode[] modes = info.get(10, TimeUnit.SECONDS);
        assertThat(modes[0]).isEqualTo(new DisplayMode(0, 0, 320, 200, true));
        assertThat(modes[1]).isEqualTo(new DisplayMode(0, 0, 160, 100, true));
        assertThat(modes[2].enabled()).isFalse();

        final CompletableFuture<byte[]> edid = new CompletableFuture<>();
        assertThat(display.requestEdid(1, edid::complete)).isTrue();
        assertThat(edid.get(10, TimeUnit.SECONDS)).isEqualTo(QemuDisplayEmulator.generateEdid(
            QemuDisplayEmulator.Mode.of(160, 100)));
    }

    @Test
    void aStalledQemuNeverBlocksTheCallerAndGetsTheLatestPixelsWhenItResumes() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(1920, 1080)), 1 << 20);
        assertThat(qemu.await(() -> qemu.negotiatedFeatures() >= 0, WAIT)).isTrue();
        qemu.pause();
        display.setScanout(0, 1920, 1080);
        final int frames = 60;
        final MemorySegment[] sources = {frame(1920, 1080, 0x111111), frame(1920, 1080, 0x222222)};
        final MemorySegment last = frame(1920, 1080, 0x777777);
        long worst = 0;
        final long start = System.nanoTime();
        for (int i = 0; i < frames; i++)
        {
            final MemorySegment src = i == frames - 1 ? last : sources[i & 1];
            final long t0 = System.nanoTime();
            display.updateScanout(0, 0, 0, 1920, 1080, src, 0, 1920 * 4, PixelFormat.B8G8R8X8);
            worst = Math.max(worst, System.nanoTime() - t0);
        }
        final Duration total = Duration.ofNanos(System.nanoTime() - start);
        // QEMU reads nothing: 60 frames of 8 MB could never have been sent, yet every call returned at memcpy
        // speed (the bound is generous: this is a functional check, not a benchmark).
        assertThat(Duration.ofNanos(worst)).isLessThan(Duration.ofMillis(500));
        assertThat(total).isLessThan(Duration.ofSeconds(10));
        final CompletableFuture<DisplayMode[]> info = new CompletableFuture<>();
        assertThat(display.requestDisplayInfo(info::complete)).as("requests are accepted while stalled").isTrue();
        awaitWriterStalled();
        assertThat(info).as("no answer while QEMU reads nothing").isNotDone();

        qemu.resume();
        assertThat(info.get(10, TimeUnit.SECONDS)[0].width()).isEqualTo(1920);
        assertThat(qemu.await(() -> framebufferShows(0, 1920, 1080, 0x777777), WAIT)).as("the latest frame wins")
            .isTrue();
        final long updates = qemu.messages(GpuRequest.UPDATE);
        // At most what was in flight when QEMU stalled plus one coalesced frame (8 bands each): far fewer than
        // the 60 x 8 bands sent one by one.
        assertThat(updates).isLessThan(frames * 8L / 2);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void aSlowQemuGetsCoalescedFramesAndTheLastOneIntact() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(256, 256))
            .messageDelay(Duration.ofMillis(20)), 16 * 1024);
        display.setScanout(0, 256, 256);
        final MemorySegment[] sources = new MemorySegment[4];
        for (int i = 0; i < sources.length; i++)
        {
            sources[i] = frame(256, 256, 0x010101 * (i + 1));
        }
        final int frames = 200;
        for (int i = 0; i < frames; i++)
        {
            display.updateScanout(0, 0, 0, 256, 256, sources[i % 4], 0, 256 * 4, PixelFormat.B8G8R8X8);
            Thread.sleep(1); // paces the frames like a guest flushing at up to 1 kHz (not synchronisation)
        }
        final int lastSeed = 0x010101 * ((frames - 1) % 4 + 1);
        assertThat(qemu.await(() -> framebufferShows(0, 256, 256, lastSeed), Duration.ofSeconds(30))).isTrue();
        // 200 frames of 16 bands each would be 3 200 UPDATEs at 20 ms each: coalescing keeps it to what QEMU reads.
        assertThat(qemu.messages(GpuRequest.UPDATE)).isLessThan(frames * 16L / 4);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void aScanoutChangeDiscardsStaleDirtyStateAndPrecedesItsUpdates() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(1920, 1080)), 1 << 20);
        assertThat(qemu.await(() -> qemu.negotiatedFeatures() >= 0, WAIT)).isTrue();
        qemu.pause();
        // Fill the socket so the writer stalls with dirty state pending.
        display.setScanout(0, 1920, 1080);
        for (int i = 0; i < 3; i++)
        {
            display.updateScanout(0, 0, 0, 1920, 1080, frame(1920, 1080, 0x300000 + i), 0, 1920 * 4,
                PixelFormat.B8G8R8X8);
        }
        awaitWriterStalled();
        display.setScanout(0, 64, 32);
        display.updateScanout(0, 0, 0, 64, 32, frame(64, 32, 0x00AA00), 0, 64 * 4, PixelFormat.B8G8R8X8);
        qemu.resume();
        assertThat(qemu.await(() -> framebufferShows(0, 64, 32, 0x00AA00), WAIT)).isTrue();
        awaitQemuReadEverything();
        assertThat(qemu.violations()).as("no stale 1920-wide UPDATE hit the 64x32 surface").isEmpty();
        assertThat(qemu.surfaceSize(0)).containsExactly(64, 32);
        assertThat(qemu.surfaceUpdates(0)).isEqualTo(1);
    }

    @Test
    void cursorStateCoalescesToTheLatestImageAndPosition() throws Exception
    {
        connect(QemuDisplayEmulator.builder(), 1 << 20);
        assertThat(qemu.await(() -> qemu.negotiatedFeatures() >= 0, WAIT)).isTrue();
        qemu.pause();
        // Two frames more than fill the socket's buffer (at most 8 MiB): the writer stalls, and the cursor calls
        // below pile up behind it.
        display.setScanout(0, 1920, 1080);
        for (int i = 0; i < 2; i++)
        {
            display.updateScanout(0, 0, 0, 1920, 1080, frame(1920, 1080, 0x100000 + i), 0, 1920 * 4,
                PixelFormat.B8G8R8X8);
        }
        awaitWriterStalled();
        final MemorySegment image = arena.allocate(64 * 64 * 4);
        for (int i = 0; i < 100; i++)
        {
            image.fill((byte)i);
            display.defineCursor(0, i, i, 1, 2, image);
            display.moveCursor(0, 1000 + i, 2000 + i, true);
        }
        display.moveCursor(0, 5, 6, false);
        qemu.resume();
        assertThat(qemu.await(() -> null != qemu.cursor(0) && !qemu.cursor(0).visible(), WAIT)).isTrue();
        final QemuDisplayEmulator.Cursor cursor = qemu.cursor(0);
        assertThat(cursor.x()).isEqualTo(5);
        assertThat(cursor.y()).isEqualTo(6);
        assertThat(cursor.image()[0]).isEqualTo((byte)99);
        assertThat(cursor.hotX()).isEqualTo(1);
        assertThat(cursor.updates() + cursor.moves()).as("far fewer than the 201 calls").isLessThan(100);
        assertThat(qemu.violations()).isEmpty();
    }

    @Test
    void closeStopsAStalledWriterPromptly() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(1920, 1080)), 1 << 20);
        assertThat(qemu.await(() -> qemu.negotiatedFeatures() >= 0, WAIT)).isTrue();
        qemu.pause();
        display.setScanout(0, 1920, 1080);
        display.updateScanout(0, 0, 0, 1920, 1080, frame(1920, 1080, 1), 0, 1920 * 4, PixelFormat.B8G8R8X8);
        awaitWriterStalled();
        final long start = System.nanoTime();
        display.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        display = null;
        qemu.resume();
        assertThat(qemu.awaitPeerClosed(WAIT)).isTrue();
    }

    @Test
    void qemuClosingItsEndIsNoticedWhileStalled() throws Exception
    {
        connect(QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(1920, 1080)), 1 << 20);
        assertThat(qemu.await(() -> qemu.negotiatedFeatures() >= 0, WAIT)).isTrue();
        qemu.pause();
        display.setScanout(0, 1920, 1080);
        display.updateScanout(0, 0, 0, 1920, 1080, frame(1920, 1080, 1), 0, 1920 * 4, PixelFormat.B8G8R8X8);
        awaitWriterStalled();
        qemu.close();
        assertThat(Await.until(display::isGone, WAIT)).isTrue();
    }
}
