package io.jvhost.e2e;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.Ppm;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real guest's virtio-gpu driver against {@code jvhost gpu} behind QEMU's vhost-user-gpu-pci: the guest's fbdev
 * comes up at QEMU's xres×yres, an image written to /dev/fb0 reaches QEMU's display pixel for pixel (screendump),
 * and the same holds after a VM stop/cont (resources kept), a GPU reset inside the guest (driver unbind + bind), a
 * {@code system_reset} (the guest boots again) and with two outputs.
 * <p>
 * The images are random noise carried on a virtio-blk disk, so every pixel is checked, not a pattern.
 */
class GpuGuestTest
{
    private static final int WIDTH = 800;
    private static final int HEIGHT = 600;
    private static final int FRAME = WIDTH * HEIGHT * 4;

    @Test
    void fbdevImageReachesQemuPixelExactAcrossStopContAGuestGpuResetAndASystemReset(@TempDir final Path dir)
        throws Exception
    {
        runGuest(dir, 1, true);
    }

    @Test
    void fbdevImageReachesQemuWithTwoOutputs(@TempDir final Path dir) throws Exception
    {
        runGuest(dir, 2, false);
    }

    private static void runGuest(final Path dir, final int outputs, final boolean reset) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();

        final byte[][] images = {noise(1), noise(2), noise(3)};
        final Path disk = dir.resolve("images.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw"))
        {
            for (final byte[] image : images)
            {
                f.write(image);
            }
        }
        // The guest obeys one command a line on its console: "show N" copies image N from the disk to /dev/fb0,
        // "reset" unbinds and rebinds the virtio_gpu driver (a GPU reset without a reboot), "done" powers off.
        final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
            fbinfo() {
              while [ ! -e /dev/fb0 ]; do sleep 0.2; done
              echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
              for v in /sys/class/vtconsole/vtcon*/bind; do echo 0 > $v 2>/dev/null; done
              echo "JVHOST-GPU fb0 size=$(cat /sys/class/graphics/fb0/virtual_size) \
            stride=$(cat /sys/class/graphics/fb0/stride) connectors=$(ls -d /sys/class/drm/card*-Virtual-* | wc -l) END"
            }
            fbinfo
            while read -r cmd arg; do
              case "$cmd" in
                show) dd if=/dev/vda of=/dev/fb0 bs=%1$d skip=$arg count=1 2>/dev/null
                      echo "JVHOST-GPU shown image=$arg END" ;;
                reset) dev=$(basename $(ls -d /sys/bus/virtio/drivers/virtio_gpu/virtio*))
                       echo $dev > /sys/bus/virtio/drivers/virtio_gpu/unbind
                       echo "JVHOST-GPU unbound $dev END"
                       sleep 1
                       echo $dev > /sys/bus/virtio/drivers/virtio_gpu/bind
                       fbinfo ;;
                done) break ;;
              esac
            done
            poweroff -f
            """.formatted(FRAME), "virtio_pci", "virtio_gpu", "virtio_blk");

        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpu", "--socket-path",
            socket.toString(), "--max-outputs", String.valueOf(outputs)))
        {
            // QEMU without a UI reports only output 0 as connected; the guest forces the others on (`e`) in the
            // same mode, so fbdev clones fb0 onto them and every output has a picture to compare.
            final StringBuilder append = new StringBuilder(QemuVm.DEFAULT_APPEND);
            for (int i = 2; i <= outputs; i++)
            {
                append.append(" video=Virtual-").append(i).append(':').append(WIDTH).append('x').append(HEIGHT)
                    .append('e');
            }
            try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd).append(append.toString())
                .vhostUserDevice("vhost-user-gpu-pci", socket,
                    "id=gpu0,xres=" + WIDTH + ",yres=" + HEIGHT + ",max_outputs=" + outputs)
                .args("-drive", "file=" + disk + ",format=raw,if=virtio",
                    // The harness's -no-reboot would make system_reset quit QEMU: reboot instead.
                    "-action", "reboot=reset")
                .start())
            {
                final String fb = vm.awaitSerial(Pattern.compile("JVHOST-GPU fb0 size=.* END"), Duration.ofSeconds(120));
                assertThat(fb).as("fbdev mode comes from QEMU's xres/yres")
                    .contains("size=" + WIDTH + "," + HEIGHT).contains("stride=" + WIDTH * 4)
                    .contains("connectors=" + outputs);
                show(vm, dir, images, 0);
                if (outputs > 1)
                {
                    // fbdev clones fb0 onto every connector: the second output shows the same pixels.
                    awaitScreen(vm, dir.resolve("screen0-head1.ppm"), 1, images[0]);
                }

                if (reset)
                {
                    // A VM pause stops the device and closes the display socket. After cont the guest carries on
                    // with the resources it has: drawing a new image works only if the back-end kept them.
                    final long linesBefore = backend.log().lines().count();
                    vm.hmp("stop");
                    assertThat(vm.hmp("info status")).contains("paused");
                    vm.hmp("cont");
                    awaitScreen(vm, dir.resolve("screen0-cont.ppm"), 0, images[0]);
                    show(vm, dir, images, 1);
                    assertThat(backend.log().lines().skip(linesBefore)).as("stop/cont is no reset")
                        .noneMatch(l -> l.contains("device reset"));

                    // A GPU reset inside the guest: the driver starts from scratch and re-creates resource 1.
                    vm.sendSerial("reset\n");
                    vm.awaitSerial(Pattern.compile("JVHOST-GPU unbound .* END"), Duration.ofSeconds(60));
                    vm.awaitSerial(Pattern.compile("JVHOST-GPU fb0 size=.* END"), Duration.ofSeconds(60));
                    show(vm, dir, images, 2);

                    // A machine reset: QEMU stops the device and sends RESET_DEVICE; the guest boots again and its
                    // new driver re-creates resource 1 (refused if the back-end had kept the old one).
                    vm.hmp("system_reset");
                    vm.awaitSerial(Pattern.compile("JVHOST-GPU fb0 size=.* END"), Duration.ofSeconds(120));
                    show(vm, dir, images, 0);
                    assertThat(backend.log()).contains("device reset (RESET_DEVICE)");
                }
                vm.sendSerial("done\n");
                assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
                assertThat(vm.serialLog()).doesNotContain("Kernel panic", "ring restore failed");
            }
            System.out.println("back-end log:\n" + backend.log());
            assertThat(backend.process().isAlive()).as("back-end survives the guest").isTrue();
            assertThat(backend.log()).doesNotContain("ERROR");
            assertThat(backend.terminate(Duration.ofSeconds(10))).isZero();
        }
    }

    private static void show(final QemuVm vm, final Path dir, final byte[][] images, final int n) throws Exception
    {
        vm.sendSerial("show " + n + "\n");
        vm.awaitSerial(Pattern.compile("JVHOST-GPU shown image=" + n + " END"), Duration.ofSeconds(120));
        awaitScreen(vm, dir.resolve("screen" + n + ".ppm"), 0, images[n]);
    }

    /**
     * Polls QEMU's screendump of output {@code head} until it equals {@code expected} (the guest's fbdev flushes
     * damage asynchronously).
     */
    private static void awaitScreen(final QemuVm vm, final Path file, final int head, final byte[] expected)
        throws Exception
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        int differ = -1;
        String size = "";
        while (System.nanoTime() < deadline)
        {
            Files.deleteIfExists(file);
            vm.hmp("screendump " + file + (head > 0 ? " gpu0 " + head : ""));
            if (Files.exists(file) && Files.size(file) > 0)
            {
                final Ppm ppm = Ppm.read(file);
                size = ppm.width() + "x" + ppm.height();
                if (ppm.width() == WIDTH && ppm.height() == HEIGHT)
                {
                    differ = ppm.differingPixels(expected);
                    if (differ == 0)
                    {
                        return;
                    }
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("QEMU's output " + head + " never matched the guest's image: last screendump " + size
            + ", " + differ + " pixels differ");
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
