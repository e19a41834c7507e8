package io.jvhost.e2e;

import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.display.DisplayServer;
import io.jvhost.e2e.support.HeadlessChromium;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web console with a display password, in a real browser: the page and noVNC load without it, noVNC asks for it
 * once (VNC Authentication over the WebSocket), and the page then sends it by HTTP Basic for the scanout list and the
 * snapshot, which the back-end serves only with it.
 */
@Timeout(120)
class WebConsolePasswordBrowserTest
{
    private static final String PASSWORD = "page-pw-42";
    private static final int WIDTH = 64;
    private static final int HEIGHT = 48;

    @Test
    void thePageAsksThePasswordOnceAndSendsItForTheScanoutListAndSnapshot(@TempDir final Path dir) throws Exception
    {
        final Path chromium = HeadlessChromium.findOrSkip();
        try (DisplayServer server = DisplayServer.builder().name("pw").password(PASSWORD)
            .web(new InetSocketAddress("127.0.0.1", 0)).start();
             HeadlessChromium browser = HeadlessChromium.start(chromium, dir, 800, 600))
        {
            server.setScanout(0, WIDTH, HEIGHT);
            server.updateScanout(0, 0, 0, WIDTH, HEIGHT, MemorySegment.ofArray(new int[WIDTH * HEIGHT]), 0, WIDTH * 4,
                PixelFormat.B8G8R8X8);
            // noVNC's password prompt is the page's window.prompt: answered here, and counted.
            browser.call("Page.enable", "{}");
            browser.call("Page.addScriptToEvaluateOnNewDocument", "{\"source\":\"window.prompts = 0;"
                + " window.prompt = () => { window.prompts++; return '" + PASSWORD + "'; };\"}");
            final String url = server.webUrls().getFirst();
            browser.navigate(url);

            browser.await("!!document.querySelector('#screen canvas')"
                + " && document.querySelector('#screen canvas').width === " + WIDTH, Duration.ofSeconds(60));
            browser.await("document.querySelector('#scanout').options.length === 1"
                + " && document.querySelector('#scanout').options[0].textContent === '0 (" + WIDTH + "\u00d7" + HEIGHT
                + ")'", Duration.ofSeconds(30));
            assertThat(browser.evaluate("window.prompts === 1")).as("asked once").isEqualTo("true");
            assertThat(browser.evaluate("document.querySelector('#status').classList.contains('error')"))
                .isEqualTo("false");

            // A person's click on the snapshot link: the PNG, fetched with the password, opens in a new tab.
            final String link = browser.evaluate("(() => { const r = document.querySelector('#snapshot')"
                + ".getBoundingClientRect(); return (r.x + r.width / 2) + ',' + (r.y + r.height / 2); })()")
                .replace("\"", "");
            browser.click(Double.parseDouble(link.split(",")[0]), Double.parseDouble(link.split(",")[1]));
            final String origin = url.substring(0, url.length() - 1);
            final long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            String targets = "";
            while (System.nanoTime() < deadline && !targets.contains("\"url\":\"blob:" + origin + "/"))
            {
                targets = browser.call("Target.getTargets", "{}");
                Thread.sleep(200);
            }
            assertThat(targets).as("a tab showing the snapshot from memory; console: %s", browser.consoleLog())
                .contains("\"url\":\"blob:" + origin + "/");
            assertThat(browser.evaluate("document.querySelector('#status').classList.contains('error')"))
                .isEqualTo("false");
        }
    }
}
