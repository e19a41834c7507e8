package io.jvhost.e2e;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a real QEMU and guest can show of {@code jvhost media} and {@code jvhost video} without a guest driver: no
 * kernel Debian ships has a virtio-media driver (it is out of tree, in the chromeos/virtio-media repository, which this
 * project's machines cannot fetch from) and none has a virtio-video driver at all. So one boot checks the transport
 * only: QEMU 11.1's generic {@code vhost-user-test-device-pci} completes its vhost-user set-up with each back-end (a
 * back-end with fewer queues than {@code num_vqs} fails QEMU's realize: checked once with video offering one) and the 6.12 guest enumerates both devices
 * with their virtio IDs and PCI ids, unbound. virtio-media's ID 48 aborts QEMU 11.1's generic device, so media
 * squats ID 39 (the back-end never sees the ID); video is ID 31. Streaming is tested through the in-process
 * front-end (MediaFrontendTest, VideoFrontendTest).
 */
class MediaVideoGuestTest
{
    private static final int MEDIA_SQUAT_ID = 39;
    private static final int VIDEO_ID = 31;

    @Test
    void qemu11FrontsMediaAndVideoAndTheGuestEnumeratesBoth(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11().withGuest612();
        env.requireOrSkip();

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            for v in /sys/bus/virtio/devices/virtio*; do
              p=$(readlink -f $v); p=${p%/*}
              echo "JVHOST-VIRTIO id=$(cat $v/device) pci=$(cat $p/vendor):$(cat $p/device) driver=$([ -e $v/driver ] && echo bound || echo none)"
            done
            echo "JVHOST-VIRTIO-END"
            read -r go
            poweroff -f
            """, "virtio_pci");

        final Path mediaSocket = dir.resolve("media.sock");
        final Path videoSocket = dir.resolve("video.sock");
        try (JvhostProcess media = JvhostProcess.start(dir, List.of(mediaSocket), "media", "-s",
            mediaSocket.toString(), "-b", "simple-capture");
            JvhostProcess video = JvhostProcess.start(dir, List.of(videoSocket), "video", "-s",
                videoSocket.toString(), "-b", "null");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-test-device-pci", mediaSocket,
                    "virtio-id=" + MEDIA_SQUAT_ID + ",num_vqs=2,config_size=40")
                .vhostUserDevice("vhost-user-test-device-pci", videoSocket,
                    "virtio-id=" + VIDEO_ID + ",num_vqs=2,config_size=44")
                .start())
        {
            vm.awaitSerial(Pattern.compile("JVHOST-VIRTIO-END"), Duration.ofSeconds(90));
            assertThat(vm.serialLog()).as("the guest's virtio devices")
                .contains("JVHOST-VIRTIO id=0x00" + Integer.toHexString(MEDIA_SQUAT_ID) + " pci=0x1af4:0x"
                    + Integer.toHexString(0x1040 + MEDIA_SQUAT_ID) + " driver=none")
                .contains("JVHOST-VIRTIO id=0x00" + Integer.toHexString(VIDEO_ID) + " pci=0x1af4:0x"
                    + Integer.toHexString(0x1040 + VIDEO_ID) + " driver=none");
            assertThat(vm.hmp("info qtree")).as("QEMU's device tree")
                .contains("virtio-id = " + MEDIA_SQUAT_ID + " ", "virtio-id = " + VIDEO_ID + " ");
            vm.sendSerial("go\n");
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(media.log()).as("media's log").contains("front-end connected").doesNotContain("ERROR");
            assertThat(video.log()).as("video's log").contains("front-end connected").doesNotContain("ERROR");
        }
    }
}
