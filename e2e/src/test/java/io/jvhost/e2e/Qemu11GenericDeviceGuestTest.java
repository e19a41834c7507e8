package io.jvhost.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
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
 * The second front-end set-up stages: QEMU 11.1's generic {@code vhost-user-test-device-pci} (the back-end supplies
 * features and queues; QEMU only knows the virtio ID) carries {@code jvhost rng} to a 6.12 guest.
 * <p>
 * That the generic device, and not QEMU's own vhost-user-rng-pci, was the front-end is seen three ways: QEMU's device
 * tree, the guest's PCI function (class 0x078000; vhost-user-rng-pci's is 0x00ff00) and the back-end's ring size
 * (the generic device's {@code vq_size}; vhost-user-rng-pci fixes 4). The back-end reads a file of one repeated byte,
 * so the guest's /dev/hwrng bytes are known exactly, whatever the guest kernel itself took from the device first.
 */
class Qemu11GenericDeviceGuestTest
{
    private static final int VIRTIO_ID_RNG = 4;
    private static final int QUEUE_SIZE = 128;
    private static final int GUEST_READ = 64 * 1024;
    private static final byte FILL = 'Z';

    @Test
    void jvhostRngReachesA612GuestThroughQemu11sGenericDevice(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11().withGuest612();
        env.requireOrSkip();

        // Four times what the guest reads: the kernel's hwrng thread also reads a little, and EOF would answer 0 bytes.
        final byte[] source = new byte[4 * GUEST_READ];
        Arrays.fill(source, FILL);
        final Path sourceFile = Files.write(dir.resolve("entropy.bin"), source);

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            v=$(readlink -f /sys/bus/virtio/devices/virtio0)
            p=${v%%/*}
            echo "JVHOST-GENERIC virtio-id=$(cat $v/device) pci=$(cat $p/vendor):$(cat $p/device) class=$(cat $p/class) rng=$(cat /sys/class/misc/hw_random/rng_current) kernel=$(uname -r) END"
            read -r go
            echo "JVHOST-GENERIC-DONE md5=$(head -c %d /dev/hwrng | md5sum | cut -d' ' -f1)"
            poweroff -f
            """.formatted(GUEST_READ), "virtio_pci", "virtio_rng");

        final long started = System.nanoTime();
        final Path socket = dir.resolve("rng.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "rng", "--socket-path",
            dir.resolve("rng.sock").toString(), "--rng-source", sourceFile.toString());
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-test-device-pci", socket,
                    "virtio-id=" + VIRTIO_ID_RNG + ",num_vqs=1,vq_size=" + QUEUE_SIZE)
                .start())
        {
            final String seen = vm.awaitSerial(Pattern.compile("JVHOST-GENERIC .* END"), Duration.ofSeconds(60));
            final long bootMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(seen).as("the guest's view of the device")
                .contains("virtio-id=0x000" + VIRTIO_ID_RNG, "pci=0x1af4:0x1044", "class=0x078000",
                    "rng=virtio_rng", "kernel=" + GuestEnvironment.GUEST612_SERIES);

            final String qtree = vm.hmp("info qtree");
            assertThat(qtree).as("QEMU's device tree")
                .contains("dev: vhost-user-test-device-pci", "dev: vhost-user-test-device,",
                    "virtio-id = " + VIRTIO_ID_RNG + " ")
                .doesNotContain("vhost-user-rng");

            vm.sendSerial("go\n");
            final String done = vm.awaitSerial(Pattern.compile("JVHOST-GENERIC-DONE md5=[0-9a-f]{32}"),
                Duration.ofSeconds(60));
            assertThat(done).as("md5 of the %d bytes the guest read from /dev/hwrng", GUEST_READ)
                .endsWith("md5=" + HexFormat.of().formatHex(
                    MessageDigest.getInstance("MD5").digest(Arrays.copyOf(source, GUEST_READ))));
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();

            assertThat(backend.log()).as("the back-end's log")
                .contains("queue 0 started, size " + QUEUE_SIZE)
                .doesNotContain("ERROR");
            System.out.printf("back-end start and guest boot: %d ms, to exit: %d ms%n", bootMillis,
                (System.nanoTime() - started) / 1_000_000);
        }
    }
}
