package io.jvhost.e2e;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.HeadlessChromium;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole path a person uses: a real guest paints its framebuffer through {@code jvhost gpu}, headless Chromium
 * opens jvhost's web console (noVNC over the back-end's own WebSocket), the page's canvas shows the guest's picture
 * pixel for pixel (a screenshot of it), and keys typed in the page reach the guest through {@code --input-socket}'s
 * virtio-input device: the guest prints the evdev codes it reads from /dev/input/event* on its serial console.
 */
class WebConsoleGuestTest
{
    private static final int WIDTH = 800;
    private static final int HEIGHT = 600;
    private static final int FRAME = WIDTH * HEIGHT * 4;
    private static final Pattern URL = Pattern.compile("web console at (http://127\\.0\\.0\\.1:\\d+/)");

    @Test
    void thePageShowsTheGuestsPictureAndTypesIntoTheGuest(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();
        final Path chromiumBinary = HeadlessChromium.findOrSkip();

        final byte[] image = noise(5);
        final Path disk = dir.resolve("image.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw"))
        {
            f.write(image);
        }
        // "show" copies the image to /dev/fb0 (fbcon unbound so nothing draws over it); every key press read from an
        // evdev node (struct input_event: 24 bytes, type at u16 #9, code #10, value #11) is echoed on the console.
        final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
            while [ ! -e /dev/fb0 ]; do sleep 0.2; done
            echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
            for v in /sys/class/vtconsole/vtcon*/bind; do echo 0 > $v 2>/dev/null; done
            echo "JVHOST-WEB fb0 size=$(cat /sys/class/graphics/fb0/virtual_size) END"
            while [ ! -e /dev/input/event0 ]; do sleep 0.2; done
            watch() {
              exec 3<"$1"
              while true; do
                ev=$(dd bs=24 count=1 <&3 2>/dev/null | od -An -tu2 -w24)
                [ -n "$ev" ] || break
                set -- $ev
                [ "$9" = 1 ] && [ "${11}" = 1 ] && echo "JVHOST-KEY code=${10} END"
              done
            }
            for e in /dev/input/event*; do watch $e & done
            echo "JVHOST-WEB input $(cat /sys/class/input/event*/device/name | tr '\\n' ';') END"
            while read -r cmd arg; do
              case "$cmd" in
                show) dd if=/dev/vda of=/dev/fb0 bs=%1$d count=1 2>/dev/null
                      echo "JVHOST-WEB shown END" ;;
                done) break ;;
              esac
            done
            poweroff -f
            """.formatted(FRAME), "virtio_pci", "virtio_gpu", "virtio_blk", "virtio_input", "evdev");

        final Path gpuSocket = dir.resolve("gpu.sock");
        final Path inputSocket = dir.resolve("input.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(gpuSocket, inputSocket), "gpu",
            "--socket-path", gpuSocket.toString(), "--display", "web=127.0.0.1:0", "--input-socket",
            inputSocket.toString()))
        {
            final Matcher url = URL.matcher(backend.log());
            assertThat(url.find()).as("the back-end prints the console's URL; log:\n%s", backend.log()).isTrue();
            try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd)
                .vhostUserDevice("vhost-user-gpu-pci", gpuSocket, "id=gpu0,xres=" + WIDTH + ",yres=" + HEIGHT)
                .vhostUserDevice("vhost-user-input-pci", inputSocket, "id=input0")
                .args("-drive", "file=" + disk + ",format=raw,if=virtio")
                .start();
                 HeadlessChromium browser = HeadlessChromium.start(chromiumBinary, dir, 1000, 900))
            {
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-WEB fb0 size=.* END"), Duration.ofSeconds(120)))
                    .contains("size=" + WIDTH + "," + HEIGHT);
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-WEB input .* END"), Duration.ofSeconds(60)))
                    .contains("jvhost");
                vm.sendSerial("show 0\n");
                vm.awaitSerial(Pattern.compile("JVHOST-WEB shown END"), Duration.ofSeconds(120));

                browser.call("Emulation.setDeviceMetricsOverride",
                    "{\"width\":1000,\"height\":900,\"deviceScaleFactor\":1,\"mobile\":false}");
                browser.navigate(url.group(1));
                browser.await("!!document.querySelector('#screen canvas')"
                    + " && document.querySelector('#screen canvas').width === " + WIDTH
                    + " && document.querySelector('#screen canvas').height === " + HEIGHT, Duration.ofSeconds(60));
                final String rect = browser.evaluate("(() => { const r = document.querySelector('#screen canvas')"
                    + ".getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(','); })()");
                final String[] r = rect.replace("\"", "").split(",");
                final double x = Double.parseDouble(r[0]);
                final double y = Double.parseDouble(r[1]);
                assertThat(Double.parseDouble(r[2])).as("canvas shown unscaled").isEqualTo(WIDTH);
                awaitScreenshot(browser, x, y, image);

                // Keys: focus the canvas, type "jv" and Enter; the guest reads KEY_J 36, KEY_V 47, KEY_ENTER 28.
                browser.click(x + 10, y + 10);
                browser.type("j", "KeyJ", 74, "j");
                browser.type("v", "KeyV", 86, "v");
                browser.type("Enter", "Enter", 13, "\r");
                vm.awaitSerial(Pattern.compile("JVHOST-KEY code=36 END"), Duration.ofSeconds(60));
                vm.awaitSerial(Pattern.compile("JVHOST-KEY code=47 END"), Duration.ofSeconds(60));
                vm.awaitSerial(Pattern.compile("JVHOST-KEY code=28 END"), Duration.ofSeconds(60));

                vm.sendSerial("done\n");
                assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
            }
            System.out.println("back-end log:\n" + backend.log());
            assertThat(backend.log()).doesNotContain("ERROR");
            assertThat(backend.terminate(Duration.ofSeconds(10))).isZero();
        }
    }

    /**
     * Screenshots the canvas until it equals the guest's image (noVNC paints asynchronously).
     */
    private static void awaitScreenshot(final HeadlessChromium browser, final double x, final double y,
        final byte[] expected) throws Exception
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int differ = -1;
        while (System.nanoTime() < deadline)
        {
            final BufferedImage shot = ImageIO.read(new ByteArrayInputStream(browser.screenshot(x, y, WIDTH, HEIGHT)));
            if (shot.getWidth() == WIDTH && shot.getHeight() == HEIGHT)
            {
                differ = 0;
                for (int py = 0; py < HEIGHT; py++)
                {
                    for (int px = 0; px < WIDTH; px++)
                    {
                        final int o = (py * WIDTH + px) * 4;
                        final int want = (expected[o + 2] & 0xFF) << 16 | (expected[o + 1] & 0xFF) << 8
                            | expected[o] & 0xFF;
                        if ((shot.getRGB(px, py) & 0xFF_FFFF) != want)
                        {
                            differ++;
                        }
                    }
                }
                if (differ == 0)
                {
                    return;
                }
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the page's canvas never matched the guest's image: " + differ
            + " pixels differ in the last screenshot; console: " + browser.consoleLog());
    }

    private static byte[] noise(final long seed)
    {
        final byte[] bytes = new byte[FRAME];
        new Random(seed).nextBytes(bytes);
        for (int p = 3; p < bytes.length; p += 4)
        {
            bytes[p] = 0;
        }
        return bytes;
    }
}
