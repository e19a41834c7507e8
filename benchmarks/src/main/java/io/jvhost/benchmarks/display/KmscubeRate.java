package io.jvhost.benchmarks.display;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

/**
 * The guest-side 3D rate: {@code jvhost demo --3d} (QEMU TCG, the Debian 12 Mesa guest running kmscube in a loop
 * behind the demo's {@code jvhost gpu -g virglrenderer}) watched by one WebSocket RFB viewer of its web console, as
 * noVNC would (Raw encoding, one incremental request outstanding). Once {@code /snapshot/0.png} shows kmscube (its
 * grey clear colour in the corners), the viewer counts the FramebufferUpdates that carry pixels over the window:
 * kmscube flushes the whole screen once a frame, so that is the frames the guest showed, less any that coalesced
 * while the viewer was reading (none at these rates on loopback). Then {@code poweroff -f} on the serial console.
 * Its output is in {@code workDir/kmscube-demo.log}.
 */
public final class KmscubeRate
{
    private static final Pattern URL = Pattern.compile("the guest's screen is at http://127\\.0\\.0\\.1:(\\d+)/");
    private static final int KMSCUBE_GREY = 0x80_80_80;

    /**
     * @param frames     FramebufferUpdates with pixels seen in the window.
     * @param screens    the pixels of those updates in screens (equal to {@code frames} when each update was one
     *                   whole frame, as kmscube's flushes are).
     * @param seconds    the window.
     * @param firstFrame seconds from the demo's start to kmscube on the snapshot.
     */
    public record Result(long frames, double screens, double seconds, double firstFrame)
    {
        public double fps()
        {
            return frames / seconds;
        }
    }

    private KmscubeRate()
    {
    }

    /**
     * Runs the demo from {@code root}'s launcher jar with {@code java}, at {@code width}x{@code height}, and counts
     * kmscube's frames for {@code window}.
     */
    public static Result measure(final String java, final Path root, final Path workDir, final int width,
        final int height, final Duration window) throws Exception
    {
        final Path log = workDir.resolve("kmscube-demo.log");
        final List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
            "@" + root.resolve("launcher/jvm.options"), "-jar", root.resolve("launcher/target/jvhost.jar").toString(),
            "demo", "--3d", "--web", "127.0.0.1:0", "--resolution", width + "x" + height));
        final ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JVHOST_HOME", root.toString());
        final long t0 = System.nanoTime();
        final Process demo = pb.start();
        try
        {
            final int port = awaitPort(demo, log, Duration.ofSeconds(180));
            final URI snapshot = URI.create("http://127.0.0.1:" + port + "/snapshot/0.png");
            awaitKmscube(demo, log, snapshot, Duration.ofSeconds(300));
            final double firstFrame = (System.nanoTime() - t0) / 1e9;
            final long frames;
            final double seconds;
            long pixels = 0;
            try (WsRfbClient viewer = WsRfbClient.connect(new InetSocketAddress("127.0.0.1", port), 0))
            {
                viewer.setNoVncPixelFormat();
                viewer.setEncodings(WsRfbClient.RAW, WsRfbClient.DESKTOP_SIZE);
                viewer.requestUpdate(false);
                viewer.readUpdate();
                long counted = 0;
                final long start = System.nanoTime();
                final long end = start + window.toNanos();
                long last = start;
                while (last < end)
                {
                    viewer.requestUpdate(true);
                    final long area = viewer.readUpdate();
                    if (area > 0)
                    {
                        counted++;
                        pixels += area;
                    }
                    last = System.nanoTime();
                }
                frames = counted;
                seconds = (last - start) / 1e9;
            }
            final OutputStream console = demo.getOutputStream();
            console.write("poweroff -f\n".getBytes(StandardCharsets.UTF_8));
            console.flush();
            if (!demo.waitFor(60, TimeUnit.SECONDS))
            {
                throw new IllegalStateException("the demo did not end within 60 s of poweroff -f (" + log + ")");
            }
            return new Result(frames, pixels / ((double)width * height), seconds, firstFrame);
        }
        finally
        {
            if (demo.isAlive())
            {
                demo.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static int awaitPort(final Process demo, final Path log, final Duration timeout) throws Exception
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && demo.isAlive())
        {
            final Matcher m = URL.matcher(read(log));
            if (m.find())
            {
                return Integer.parseInt(m.group(1));
            }
            Thread.sleep(100); // polls the demo's output
        }
        throw new IllegalStateException("jvhost demo --3d printed no URL within " + timeout + " (" + log + ")");
    }

    private static void awaitKmscube(final Process demo, final Path log, final URI snapshot, final Duration timeout)
        throws Exception
    {
        final HttpClient http = HttpClient.newHttpClient();
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && demo.isAlive())
        {
            final HttpResponse<byte[]> png = http.send(HttpRequest.newBuilder(snapshot).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            if (png.statusCode() == 200)
            {
                final BufferedImage shot = ImageIO.read(new ByteArrayInputStream(png.body()));
                if (null != shot && (shot.getRGB(0, 0) & 0xFF_FFFF) == KMSCUBE_GREY
                    && (shot.getRGB(shot.getWidth() - 1, shot.getHeight() - 1) & 0xFF_FFFF) == KMSCUBE_GREY)
                {
                    return;
                }
            }
            Thread.sleep(250); // polls the snapshot until kmscube's first frame
        }
        throw new IllegalStateException("no kmscube frame on " + snapshot + " within " + timeout + " (" + log + ")");
    }

    private static String read(final Path log)
    {
        try
        {
            return Files.readString(log, StandardCharsets.ISO_8859_1);
        }
        catch (final IOException e)
        {
            return "";
        }
    }
}
