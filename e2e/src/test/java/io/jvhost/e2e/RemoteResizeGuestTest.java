package io.jvhost.e2e;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
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
    private static final Pattern VNC_PORT = Pattern.compile("VNC viewers of scanout 0 on 127\\.0\\.0\\.1:(\\d+)");

    @Test
    void aViewersSetDesktopSizeSwitchesTheGuestsMode(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11();
        env.requireOrSkip();

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            while [ ! -e /dev/fb0 ]; do sleep 0.2; done
            modes=$(ls /sys/class/drm/card0-*/modes | head -n1)
            echo "JVHOST-RESIZE before mode=$(head -n1 $modes) fb=$(cat /sys/class/graphics/fb0/virtual_size) END"
            read -r go
            i=0
            while [ "$(head -n1 $modes)" != 800x600 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
            sleep 2
            echo "JVHOST-RESIZE after mode=$(head -n1 $modes) fb=$(cat /sys/class/graphics/fb0/virtual_size) vmode=$(cat /sys/class/graphics/fb0/mode) END"
            poweroff -f
            """, "virtio_pci", "virtio_gpu");

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
}
