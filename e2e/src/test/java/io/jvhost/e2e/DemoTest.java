package io.jvhost.e2e;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.JvhostProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The main job, {@code jvhost demo}, as a user runs it: it boots the guest with rng, gpu and input served by the one
 * Java process, prints the URL of the guest's screen, the guest's serial console is on the terminal (here: the
 * process's stdin and output), the web console serves the page and a snapshot of the guest's screen (fbcon's text on
 * the GPU), and {@code poweroff -f} ends it with status 0.
 */
class DemoTest
{
    private static final Pattern URL = Pattern.compile("the guest's screen is at (http://127\\.0\\.0\\.1:\\d+/)");
    private static final Duration BOOT = Duration.ofSeconds(180);
    /** The line that names the demo's log file. */
    static final Pattern LOG_FILE = Pattern.compile("jvhost's log: (\\S+) \\(-v shows it here\\)");

    @Test
    void theDemoBootsAGuestWhoseRngScreenAndConsoleAreServedByJvhost(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();
        try (JvhostProcess demo = JvhostProcess.start(dir, List.of(), "demo", "--web", "127.0.0.1:0",
            "--resolution", "800x600"))
        {
            final String booted = awaitLog(demo, log -> log.contains("Quit: poweroff -f"), BOOT);
            assertThat(booted).as("the guest's hardware RNG is jvhost's virtio-rng").contains("Hardware RNG: virtio_rng");
            final Matcher url = URL.matcher(booted);
            assertThat(url.find()).as("the demo prints the screen's URL").isTrue();
            assertThat(booted).as("the demo says how to quit").contains("quit with 'poweroff -f'");
            final Path logFile = logFile(booted);

            final OutputStream console = demo.process().getOutputStream();
            console.write("head -c 100000 /dev/hwrng | wc -c; echo DEMO-$((6*7))\n".getBytes(StandardCharsets.UTF_8));
            console.flush();
            final String answered = awaitLog(demo, log -> log.contains("DEMO-42"), Duration.ofSeconds(60));
            assertThat(answered).as("100,000 bytes of entropy through jvhost rng").containsPattern("(?m)^\\s*100000\\s*$");

            final HttpClient http = HttpClient.newHttpClient();
            final HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(url.group(1))).build(),
                HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("id=\"screen\"");
            // fbcon draws the guest's console on the GPU: the snapshot is the guest's mode with text on it.
            final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            int lit = 0;
            BufferedImage shot = null;
            while (lit == 0 && System.nanoTime() < deadline)
            {
                final HttpResponse<byte[]> png = http.send(HttpRequest.newBuilder(URI.create(url.group(1)
                    + "snapshot/0.png")).build(), HttpResponse.BodyHandlers.ofByteArray());
                if (png.statusCode() == 200)
                {
                    shot = ImageIO.read(new ByteArrayInputStream(png.body()));
                    lit = litPixels(shot);
                }
                if (lit == 0)
                {
                    Thread.sleep(250); // polls the snapshot until fbcon has drawn
                }
            }
            assertThat(shot).as("a snapshot of the guest's screen").isNotNull();
            assertThat(new int[] {shot.getWidth(), shot.getHeight()}).containsExactly(800, 600);
            assertThat(lit).as("fbcon's text on the screen").isPositive();

            console.write("poweroff -f\n".getBytes(StandardCharsets.UTF_8));
            console.flush();
            assertThat(demo.process().waitFor(60, TimeUnit.SECONDS)).as("the demo ends with the guest").isTrue();
            assertThat(demo.process().exitValue()).isZero();
            assertThat(demo.log()).doesNotContain("ERROR", "Exception in thread");
            assertQuiet(demo.log(), logFile, "rng0: features negotiated", "gpu0: queue 0 started",
                "input0: features negotiated");
        }
    }

    /**
     * @return the log file the demo's output names.
     */
    static Path logFile(final String output)
    {
        final Matcher m = LOG_FILE.matcher(output);
        assertThat(m.find()).as("the demo names its log file:\n" + output).isTrue();
        return Path.of(m.group(1));
    }

    /**
     * The terminal shows no INFO line of jvhost's, and the back-ends' log lines ({@code expected}) are in the file.
     */
    static void assertQuiet(final String terminal, final Path logFile, final String... expected) throws IOException
    {
        assertThat(terminal.lines().filter(l -> l.matches("^\\S+Z INFO .*")).toList())
            .as("jvhost's INFO lines on the terminal").isEmpty();
        final String logged = Files.readString(logFile, StandardCharsets.UTF_8);
        assertThat(logged).as("the log file " + logFile).contains(expected).doesNotContain("ERROR");
        Files.delete(logFile);
    }

    private static int litPixels(final BufferedImage image)
    {
        int lit = 0;
        for (int y = 0; y < image.getHeight(); y++)
        {
            for (int x = 0; x < image.getWidth(); x++)
            {
                if ((image.getRGB(x, y) & 0xFF_FFFF) != 0)
                {
                    lit++;
                }
            }
        }
        return lit;
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
