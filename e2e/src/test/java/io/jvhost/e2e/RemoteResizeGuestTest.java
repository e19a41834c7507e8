package io.jvhost.e2e;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.HeadlessChromium;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import io.jvhost.e2e.support.ResizingVncViewer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Remote resizing with a real guest: {@code jvhost gpu} with its own VNC display behind QEMU 11.1's generic
 * {@code vhost-user-test-device-pci} (virtio-gpu's ID; vhost-user-base raises the config interrupt on
 * BACKEND_CONFIG_CHANGE_MSG). A viewer asks for 800x600; the guest's driver re-reads the display info, its DRM
 * connector prefers 800x600, the console switches mode (SET_SCANOUT at 800x600 answers the viewer), and the serial
 * console shows what the guest's sysfs says before and after: the connector's first mode follows, fb0's virtual size
 * (fbdev's boot-time framebuffer) does not.
 */
class RemoteResizeGuestTest
{
    private static final Pattern WEB_URL = Pattern.compile("web console at (http://127\\.0\\.0\\.1:\\d+/)");
    private static final Pattern VNC_PORT = Pattern.compile("VNC viewers of scanout 0 on 127\\.0\\.0\\.1:(\\d+)");

    @Test
    void aViewersSetDesktopSizeSwitchesTheGuestsMode(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11();
        env.requireOrSkip();

        final Path initrd = guest(env, dir, "800x600");

        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpu", "--socket-path",
            socket.toString(), "--resolution", "1024x768", "--display", "vnc=127.0.0.1:0");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-test-device-pci", socket, "virtio-id=16,num_vqs=2,config_size=16")
                .start())
        {
            final String before = vm.awaitSerial(Pattern.compile("JVHOST-RESIZE before .* END"),
                Duration.ofSeconds(120));
            System.out.println(before);
            assertThat(before).contains("mode=1024x768");

            final Matcher port = VNC_PORT.matcher(backend.log());
            assertThat(port.find()).as("VNC port in the log:\n%s", backend.log()).isTrue();
            try (ResizingVncViewer viewer = new ResizingVncViewer(
                new InetSocketAddress("127.0.0.1", Integer.parseInt(port.group(1))), 120_000))
            {
                assertThat(viewer.nextExtendedDesktopSize()).as("offered").containsExactly(0, 0, 1024, 768);
                final long asked = System.nanoTime();
                viewer.setDesktopSize(800, 600);
                vm.sendSerial("go\n");
                final String after = vm.awaitSerial(Pattern.compile("JVHOST-RESIZE after .* END"),
                    Duration.ofSeconds(120));
                System.out.println(after);
                final int[] answer = viewer.nextExtendedDesktopSize();
                System.out.printf("viewer's answer after %d ms: reason %d status %d %dx%d%n",
                    (System.nanoTime() - asked) / 1_000_000, answer[0], answer[1], answer[2], answer[3]);
                System.out.println("back-end log:\n" + backend.log());
                assertThat(after).as("the guest's connector prefers the viewer's size").contains("mode=800x600");
                // Measured with the 6.1 guest: fbdev keeps the framebuffer it allocated at boot and shows an 800x600
                // mode of it (the SET_SCANOUT that answered the viewer), so fb0's virtual size does not follow.
                assertThat(after).as("fbdev keeps its boot-time framebuffer").contains("fb=1024,768");
                assertThat(answer).as("the guest switched: this client's request, no error")
                    .containsExactly(1, 0, 800, 600);
            }
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).contains("config change sent to the front-end").doesNotContain("ERROR");
        }
    }

    /**
     * The guest: prints its connector's preferred mode and fb0's size, waits for "go", then waits (up to 30 s) for the
     * preferred mode to become {@code wanted} (any change from 1024x768 when {@code wanted} is "*") and prints them
     * again.
     */
    private static Path guest(final GuestEnvironment env, final Path dir, final String wanted) throws Exception
    {
        final String until = "*".equals(wanted) ? "[ \"$(head -n1 $modes)\" = 1024x768 ]"
            : "[ \"$(head -n1 $modes)\" != " + wanted + " ]";
        return Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            while [ ! -e /dev/fb0 ]; do sleep 0.2; done
            modes=$(ls /sys/class/drm/card0-*/modes | head -n1)
            echo "JVHOST-RESIZE before mode=$(head -n1 $modes) fb=$(cat /sys/class/graphics/fb0/virtual_size) END"
            read -r go
            i=0
            while %s && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
            sleep 2
            echo "JVHOST-RESIZE after mode=$(head -n1 $modes) fb=$(cat /sys/class/graphics/fb0/virtual_size) vmode=$(cat /sys/class/graphics/fb0/mode) END"
            poweroff -f
            """.formatted(until), "virtio_pci", "virtio_gpu");
    }

    /**
     * The scenario through the web console: noVNC in headless Chromium with "Resize guest to window" on asks
     * for its screen area's size (SetDesktopSize over the WebSocket), and the guest's connector switches to exactly
     * that size.
     */
    @Test
    void theWebConsoleResizesTheGuestToItsWindow(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11();
        env.requireOrSkip();
        final Path chromiumBinary = HeadlessChromium.findOrSkip();
        final Path initrd = guest(env, dir, "*");
        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpu", "--socket-path",
            socket.toString(), "--resolution", "1024x768", "--display", "web=127.0.0.1:0");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-test-device-pci", socket, "virtio-id=16,num_vqs=2,config_size=16")
                .start();
            HeadlessChromium browser = HeadlessChromium.start(chromiumBinary, dir, 900, 700))
        {
            final String before = vm.awaitSerial(Pattern.compile("JVHOST-RESIZE before .* END"),
                Duration.ofSeconds(120));
            assertThat(before).contains("mode=1024x768");
            final Matcher url = WEB_URL.matcher(backend.log());
            assertThat(url.find()).as("the console's URL in the log:\n%s", backend.log()).isTrue();
            browser.call("Emulation.setDeviceMetricsOverride",
                "{\"width\":900,\"height\":700,\"deviceScaleFactor\":1,\"mobile\":false}");
            browser.navigate(url.group(1) + "?resize=1");
            final Pattern asked = Pattern.compile("asked the guest for (\\d+)x(\\d+)");
            final long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            Matcher m = asked.matcher(backend.log());
            while (!m.find() && System.nanoTime() < deadline)
            {
                Thread.sleep(100); // polls the back-end's log for the page's request
                m = asked.matcher(backend.log());
            }
            assertThat(m.find(0)).as("the page asked for its size; log:\n%s\nconsole: %s", backend.log(),
                browser.consoleLog()).isTrue();
            final String size = m.group(1) + "x" + m.group(2);
            final String area = browser.evaluate("(() => { const e = document.getElementById('screen');"
                + " return e.clientWidth + 'x' + e.clientHeight; })()").replace("\"", "");
            assertThat(size).as("noVNC asks for its screen area").isEqualTo(area);
            assertThat(size).isNotEqualTo("1024x768");
            vm.sendSerial("go\n");
            final String after = vm.awaitSerial(Pattern.compile("JVHOST-RESIZE after .* END"), Duration.ofSeconds(120));
            System.out.println(before + "\n" + after + "\nback-end log:\n" + backend.log());
            assertThat(after).as("the guest's connector switched to the window's size").contains("mode=" + size + " ");
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR");
        }
    }
}
