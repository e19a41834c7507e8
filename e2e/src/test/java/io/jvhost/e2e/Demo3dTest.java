package io.jvhost.e2e;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.HeadlessChromium;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.launcher.Guest3dTree;
import io.jvhost.virgl.FenceListener;
import io.jvhost.virgl.VirglFlags;
import io.jvhost.virgl.VirglLibrary;
import io.jvhost.virgl.VirglRenderer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost demo --3d} as a user runs it: the GPU in the demo's process is {@code jvhost gpu -g virglrenderer},
 * the guest is Debian 12's Mesa running kmscube in a loop, and the web console's {@code /snapshot/0.png} (jvhost's
 * own display, fed by reading each flushed frame back from virglrenderer; QEMU has {@code -display none}) shows
 * kmscube's grey background with the cube on it, and a different picture a moment later (live); kmscube's GL renderer
 * is virgl (Mesa's kms_swrast fallback would put a cube on the screen without the 3D path); the page itself, opened in
 * headless Chromium, shows the cube turning in noVNC's canvas; {@code poweroff -f} ends the demo with status 0. Under TCG the first frame comes 20-60 s after boot.
 */
@Timeout(420)
class Demo3dTest
{
    private static final Pattern URL = Pattern.compile("the guest's screen is at (http://127\\.0\\.0\\.1:\\d+/)");
    /** kmscube's glClearColor(0.5, 0.5, 0.5, 1.0), as 8-bit RGB. */
    private static final int KMSCUBE_GREY = 0x80_80_80;
    private static final int WIDTH = 640;
    private static final int HEIGHT = 480;

    @Test
    void theDemoShowsKmscubeRenderedByVirglrendererLiveInTheWebConsole(@TempDir final Path dir) throws Exception
    {
        GuestEnvironment.detect().requireOrSkip();
        require3d();
        final Path chromium = HeadlessChromium.findOrSkip();
        try (JvhostProcess demo = JvhostProcess.start(dir, List.of(), "demo", "--3d", "--web", "127.0.0.1:0",
            "--resolution", WIDTH + "x" + HEIGHT))
        {
            // Packing the 3D guest takes 30-60 s when build-initramfs.sh's cache does not have it yet.
            final Matcher url = URL.matcher(awaitLog(demo, log -> URL.matcher(log).find(), Duration.ofSeconds(180)));
            assertThat(url.find()).isTrue();
            final URI snapshot = URI.create(url.group(1) + "snapshot/0.png");
            final HttpClient http = HttpClient.newHttpClient();

            final BufferedImage first = awaitSnapshot(demo, http, snapshot, Demo3dTest::isKmscube,
                Duration.ofSeconds(240), "kmscube's grey background with a cube on it");
            assertThat(new int[] {first.getWidth(), first.getHeight()}).containsExactly(WIDTH, HEIGHT);
            final BufferedImage later = awaitSnapshot(demo, http, snapshot,
                shot -> isKmscube(shot) && differingPixels(first, shot) > 100, Duration.ofSeconds(60),
                "another kmscube frame (the cube turned)");
            assertThat(differingPixels(first, later)).as("the screen is live").isGreaterThan(100);

            try (HeadlessChromium browser = HeadlessChromium.start(chromium, dir, 1000, 900))
            {
                browser.call("Emulation.setDeviceMetricsOverride",
                    "{\"width\":1000,\"height\":900,\"deviceScaleFactor\":1,\"mobile\":false}");
                browser.navigate(url.group(1));
                browser.await("!!document.querySelector('#screen canvas')"
                    + " && document.querySelector('#screen canvas').width === " + WIDTH
                    + " && document.querySelector('#screen canvas').height === " + HEIGHT, Duration.ofSeconds(60));
                final String[] r = browser.evaluate("(() => { const r = document.querySelector('#screen canvas')"
                    + ".getBoundingClientRect(); return [r.x, r.y].join(','); })()").replace("\"", "").split(",");
                final double x = Double.parseDouble(r[0]);
                final double y = Double.parseDouble(r[1]);
                final BufferedImage inPage = awaitScreenshot(browser, x, y, Demo3dTest::isKmscube,
                    "kmscube in the page's canvas");
                awaitScreenshot(browser, x, y, shot -> isKmscube(shot) && differingPixels(inPage, shot) > 100,
                    "the cube turning in the page's canvas");
            }

            final OutputStream console = demo.process().getOutputStream();
            console.write("grep renderer: /tmp/kmscube.log; echo DEMO3D-$((6*7))\n".getBytes(StandardCharsets.UTF_8));
            console.flush();
            assertThat(awaitLog(demo, log -> log.contains("DEMO3D-42"), Duration.ofSeconds(60)))
                .as("kmscube renders through virgl, not Mesa's software fallback").contains("renderer: \"virgl (");

            console.write("poweroff -f\n".getBytes(StandardCharsets.UTF_8));
            console.flush();
            assertThat(demo.process().waitFor(60, TimeUnit.SECONDS)).as("the demo ends with the guest").isTrue();
            assertThat(demo.process().exitValue()).isZero();
            assertThat(demo.log()).doesNotContain("ERROR", "Exception in thread");
            DemoTest.assertQuiet(demo.log(), DemoTest.logFile(demo.log()), "virglrenderer started",
                "rng0: features negotiated");
        }
    }

    /** Skips (or fails under JVHOST_REQUIRE_E2E=1) without the 3D guest or a virglrenderer that starts. */
    private static void require3d()
    {
        String why = Guest3dTree.detect().problem();
        if (null == why && !VirglLibrary.available())
        {
            why = "no " + VirglLibrary.NAME;
        }
        if (null == why)
        {
            try
            {
                VirglRenderer.init(VirglFlags.SURFACELESS_EGL, (FenceListener)id -> { }).close();
            }
            catch (final Exception e)
            {
                why = "virglrenderer cannot start: " + e.getMessage();
            }
        }
        if (null != why)
        {
            final String message = "3D demo environment incomplete: " + why + " (run ./jvhost setup)";
            if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E")))
            {
                Assertions.fail(message);
            }
            Assumptions.abort(message);
        }
    }

    /**
     * kmscube's frame: the corners are its clear colour, and the cube (anything neither grey nor black) covers at
     * least 2 % of the screen. fbcon's text, a black screen or a stale 2D picture are none of this.
     */
    private static boolean isKmscube(final BufferedImage shot)
    {
        final int w = shot.getWidth();
        final int h = shot.getHeight();
        for (final int[] corner : new int[][] {{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}})
        {
            if (!near(shot.getRGB(corner[0], corner[1]) & 0xFF_FFFF, KMSCUBE_GREY))
            {
                return false;
            }
        }
        int cube = 0;
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                final int rgb = shot.getRGB(x, y) & 0xFF_FFFF;
                if (!near(rgb, KMSCUBE_GREY) && 0 != rgb)
                {
                    cube++;
                }
            }
        }
        return cube > w * h / 50;
    }

    /** Each channel within 2 of the other's. */
    private static boolean near(final int rgb, final int other)
    {
        for (int shift = 0; shift < 24; shift += 8)
        {
            if (Math.abs((rgb >> shift & 0xFF) - (other >> shift & 0xFF)) > 2)
            {
                return false;
            }
        }
        return true;
    }

    private static int differingPixels(final BufferedImage a, final BufferedImage b)
    {
        int differing = 0;
        for (int y = 0; y < a.getHeight(); y++)
        {
            for (int x = 0; x < a.getWidth(); x++)
            {
                if ((a.getRGB(x, y) & 0xFF_FFFF) != (b.getRGB(x, y) & 0xFF_FFFF))
                {
                    differing++;
                }
            }
        }
        return differing;
    }

    /**
     * Screenshots the page's canvas until it satisfies {@code done} (noVNC paints as frames arrive).
     */
    private static BufferedImage awaitScreenshot(final HeadlessChromium browser, final double x, final double y,
        final Predicate<BufferedImage> done, final String what) throws Exception
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        BufferedImage last = null;
        while (System.nanoTime() < deadline)
        {
            last = ImageIO.read(new ByteArrayInputStream(browser.screenshot(x, y, WIDTH, HEIGHT)));
            if (last.getWidth() == WIDTH && last.getHeight() == HEIGHT && done.test(last))
            {
                return last;
            }
            Thread.sleep(200); // polls the page: noVNC draws when frames arrive
        }
        throw new AssertionError("no " + what + " within 60 s (last screenshot "
            + (null == last ? "none" : last.getWidth() + "x" + last.getHeight()) + "); console: "
            + browser.consoleLog());
    }

    /**
     * Polls {@code snapshot} until a picture satisfies {@code done}.
     */
    private static BufferedImage awaitSnapshot(final JvhostProcess demo, final HttpClient http, final URI snapshot,
        final Predicate<BufferedImage> done, final Duration timeout, final String what) throws Exception
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        BufferedImage last = null;
        while (System.nanoTime() < deadline && demo.process().isAlive())
        {
            final HttpResponse<byte[]> png = http.send(HttpRequest.newBuilder(snapshot).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            if (png.statusCode() == 200)
            {
                last = ImageIO.read(new ByteArrayInputStream(png.body()));
                if (done.test(last))
                {
                    return last;
                }
            }
            Thread.sleep(200); // polls the snapshot: the guest's frames come when TCG gets there
        }
        throw new AssertionError("no " + what + " on " + snapshot + " within " + timeout + " (last: "
            + (null == last ? "none" : last.getWidth() + "x" + last.getHeight() + ", corner 0x"
            + Integer.toHexString(last.getRGB(0, 0) & 0xFF_FFFF)) + "); output:\n" + demo.log());
    }

    /**
     * Polls the demo's output (the guest's serial console and jvhost's log) until {@code done} holds.
     */
    private static String awaitLog(final JvhostProcess demo, final Predicate<String> done, final Duration timeout)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        String log = demo.log();
        while (!done.test(log))
        {
            if (!demo.process().isAlive() || System.nanoTime() > deadline)
            {
                throw new AssertionError("the demo " + (demo.process().isAlive() ? "did not get there within "
                    + timeout : "exited with " + demo.process().exitValue()) + "; output:\n" + log);
            }
            Thread.sleep(100); // polls the output file
            log = demo.log();
        }
        return log;
    }
}
