package io.jvhost.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.e2e.support.Guest3d;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.Picture3d;
import io.jvhost.e2e.support.Ppm;
import io.jvhost.e2e.support.QemuVm;

/**
 * Tier 2 of 3D: the Debian 12 Mesa guest renders through {@code jvhost gpu --gpu-mode virglrenderer} behind QEMU 10's
 * {@code vhost-user-gpu-pci} with {@code -display none}: the kernel negotiates virgl, gl3d renders offscreen through
 * virgl (GL_RENDERER names virgl: Mesa would otherwise fall back to its own llvmpipe) with exact pixels, and the
 * frame kms3d shows (a triangle in one corner, so a vertical flip shows) is QEMU's screendump and jvhost's own web
 * display's {@code /snapshot/0.png} pixel for pixel.
 */
@Timeout(900)
class Guest3dJvhostTest
{
    private static final Duration STEP = Duration.ofSeconds(300);
    private static final Pattern URL = Pattern.compile("web console at (http://127\\.0\\.0\\.1:\\d+/)");

    @Test
    void guestRendersThroughJvhostsVirglAndItsFrameIsQemusScreen(@TempDir final Path dir) throws Exception
    {
        final Guest3d guest = Guest3d.detect();
        guest.requireOrSkip();
        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), JvhostProcess.daemonJvmOptions(),
            "gpu", "-s", socket.toString(), "-g", "virglrenderer", "--display", "web=127.0.0.1:0"))
        {
            final QemuVm.Builder builder = guest.vm(dir, Guest3d.clientsScript(240, 10))
                .vhostUserDevice("vhost-user-gpu-pci", socket, null);
            try (QemuVm vm = builder.start())
            {
                assertThat(vm.awaitSerial(Pattern.compile("\\[drm\\] features:"), STEP))
                    .as("the guest's virtio-gpu negotiated 3D").contains("+virgl");
                assertThat(vm.awaitSerial(Pattern.compile("GL3D: GL_RENDERER="), STEP))
                    .as("Mesa renders through virgl, not its own llvmpipe").contains("GL3D: GL_RENDERER=virgl (");
                assertThat(vm.awaitSerial(Pattern.compile("GL3D: red="), STEP))
                    .endsWith("GL3D: red=2016 clear=2080 other=0 misplaced=0");
                assertThat(vm.awaitSerial(Pattern.compile("GL3D: (PASS|FAIL)"), STEP)).endsWith("GL3D: PASS");

                assertThat(vm.awaitSerial(Pattern.compile("KMS3D: GL_RENDERER="), STEP)).contains("=virgl (");
                assertThat(vm.awaitSerial(Pattern.compile("KMS3D: (shown|FAIL)"), STEP))
                    .contains("KMS3D: shown 1280x800 ");
                final Picture3d.Result shown = awaitPicture(vm, dir.resolve("screen.ppm"));
                assertThat(shown.matches()).as("QEMU's screendump is kms3d's frame: %s", shown).isTrue();
                final Matcher url = URL.matcher(backend.log());
                assertThat(url.find()).as("the web console's URL; log:%n%s", backend.log()).isTrue();
                final Picture3d.Result web = awaitSnapshot(URI.create(url.group(1) + "snapshot/0.png"));
                assertThat(web.matches()).as("jvhost's web display shows kms3d's frame: %s", web).isTrue();
                vm.sendSerial("\n");  // kms3d holds its frame until a line arrives
                assertThat(vm.awaitSerial(Pattern.compile("KMS3D: (done|FAIL)"), STEP)).endsWith("KMS3D: done");

                assertThat(vm.awaitSerial(Pattern.compile("Rendered \\d+ frames|GUEST3D: end"), STEP))
                    .as("kmscube -c 10").containsPattern("Rendered [1-9]\\d* frames");
                assertThat(vm.awaitSerial(Pattern.compile("GUEST3D: test.sh exit"), STEP)).contains("exit 0");
                assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
                assertThat(vm.serialLog()).as("no kernel error on the console (quiet shows errors only)")
                    .doesNotContain("Kernel panic", "*ERROR*");
                vm.serialLog().lines().filter(l -> l.matches(".*(GUEST3D|GL3D|KMS3D|Rendered|\\[drm\\]).*"))
                    .forEach(System.out::println);
            }
            System.out.println("back-end log:\n" + backend.log());
            assertThat(backend.process().isAlive()).as("the back-end survived the guest").isTrue();
        }
    }

    /**
     * Polls the web display's PNG snapshot until it is kms3d's picture.
     */
    private static Picture3d.Result awaitSnapshot(final URI snapshot) throws Exception
    {
        final HttpClient http = HttpClient.newHttpClient();
        final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Picture3d.Result last = null;
        while (System.nanoTime() < deadline)
        {
            final HttpResponse<byte[]> png = http.send(HttpRequest.newBuilder(snapshot).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            if (png.statusCode() == 200)
            {
                last = Picture3d.checkPng(png.body());
                if (last.matches())
                {
                    return last;
                }
            }
            Thread.sleep(250);
        }
        return null == last ? new Picture3d.Result(0, 0, 0, 0, 0, -1, "no snapshot") : last;
    }

    /**
     * Polls QEMU's screendump until it is kms3d's picture (the frame reaches the display shortly after the guest
     * says it is shown).
     */
    private static Picture3d.Result awaitPicture(final QemuVm vm, final Path file) throws Exception
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Picture3d.Result last = null;
        while (System.nanoTime() < deadline)
        {
            Files.deleteIfExists(file);
            vm.hmp("screendump " + file);
            if (Files.exists(file) && Files.size(file) > 0)
            {
                last = Picture3d.check(Ppm.read(file));
                if (last.matches())
                {
                    return last;
                }
            }
            Thread.sleep(250);
        }
        return null == last ? new Picture3d.Result(0, 0, 0, 0, 0, -1, "no screendump") : last;
    }
}
