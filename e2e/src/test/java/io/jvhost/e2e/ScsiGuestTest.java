package io.jvhost.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A QEMU 10 guest with two {@code vhost-user-scsi-pci} adapters, each served by a {@code jvhost scsi} process: one
 * writable 8 MiB disk, one 4 MiB disk served with {@code -r}. The guest sees both with the right sizes, reads the
 * writable one whole (its SHA-256 equals the image's), writes a marker that is in the image file after the guest
 * powered off, and fails to write the read-only one, which the kernel marks read-only and which stays unchanged.
 */
class ScsiGuestTest
{
    private static final int RW_BYTES = 8 << 20;
    private static final int RO_BYTES = 4 << 20;
    private static final long MARKER_OFFSET = 1 << 20;
    private static final String MARKER = "JVHOST-SCSI-PERSISTED-0123456789";

    @Test
    void guestSeesSizesReadsTheDiskWholeWritesPersistAndTheReadOnlyDiskRefusesWrites(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();

        final Random random = new Random(42);
        final byte[] rw = new byte[RW_BYTES];
        random.nextBytes(rw);
        final byte[] ro = new byte[RO_BYTES];
        random.nextBytes(ro);
        final Path rwImage = dir.resolve("rw.img");
        final Path roImage = dir.resolve("ro.img");
        Files.write(rwImage, rw);
        Files.write(roImage, ro);
        final Path rwSocket = dir.resolve("scsi-rw.sock");
        final Path roSocket = dir.resolve("scsi-ro.sock");

        final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
            for i in $(seq 1 300); do [ -e /sys/block/sda ] && [ -e /sys/block/sdb ] && break; sleep 0.1; done
            RW=; RO=
            for d in /sys/block/sd*; do
              n=${d##*/}
              echo "JVHOST-SCSI disk=$n size=$(cat $d/size) ro=$(cat $d/ro) rotational=$(cat $d/queue/rotational)"
              [ "$(cat $d/size)" = %d ] && RW=$n
              [ "$(cat $d/size)" = %d ] && RO=$n
            done
            echo "JVHOST-SCSI sha=$(sha256sum /dev/$RW | cut -d' ' -f1)"
            printf '%s' | dd of=/dev/$RW bs=512 seek=%d conv=notrunc,fsync 2>/dev/null
            echo "JVHOST-SCSI rw-write=$?"
            dd if=/dev/zero of=/dev/$RO bs=512 count=1 conv=notrunc,fsync 2>/dev/null
            echo "JVHOST-SCSI ro-write=$?"
            sync
            echo "JVHOST-SCSI-DONE"
            poweroff -f
            """.formatted(RW_BYTES / 512, RO_BYTES / 512, MARKER, MARKER_OFFSET / 512),
            "virtio_pci", "virtio_scsi", "sd_mod");

        Files.createDirectories(dir.resolve("rw"));
        Files.createDirectories(dir.resolve("ro"));
        try (JvhostProcess rwBackend = JvhostProcess.start(dir.resolve("rw"), List.of(rwSocket), "scsi", "-s", rwSocket.toString(),
            "--solid-state", rwImage.toString());
            JvhostProcess roBackend = JvhostProcess.start(dir.resolve("ro"), List.of(roSocket), "scsi", "--socket-path",
                roSocket.toString(), "-r", roImage.toString()))
        {
            final String log;
            try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd)
                .vhostUserDevice("vhost-user-scsi-pci", rwSocket, "")
                .vhostUserDevice("vhost-user-scsi-pci", roSocket, "")
                .start())
            {
                vm.awaitSerial(Pattern.compile("JVHOST-SCSI-DONE"), Duration.ofSeconds(240));
                assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
                log = vm.serialLog();
            }
            System.out.println("rw back-end log:\n" + rwBackend.log() + "\nro back-end log:\n" + roBackend.log());

            assertThat(log).as("the writable disk: size in 512-byte sectors, writable, non-rotating (--solid-state)")
                .containsPattern("JVHOST-SCSI disk=sd[a-z] size=" + RW_BYTES / 512 + " ro=0 rotational=0");
            assertThat(log).as("the -r disk: its size, marked read-only, rotational")
                .containsPattern("JVHOST-SCSI disk=sd[a-z] size=" + RO_BYTES / 512 + " ro=1 rotational=1");
            final Matcher sha = Pattern.compile("JVHOST-SCSI sha=([0-9a-f]{64})").matcher(log);
            assertThat(sha.find()).as("the guest hashed the disk: " + log).isTrue();
            assertThat(sha.group(1)).as("SHA-256 of the whole disk as the guest read it")
                .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(rw)));
            assertThat(log).contains("JVHOST-SCSI rw-write=0");
            assertThat(log).containsPattern("JVHOST-SCSI ro-write=[1-9]");

            final byte[] after = Files.readAllBytes(rwImage);
            final byte[] expected = rw.clone();
            System.arraycopy(MARKER.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, expected,
                (int)MARKER_OFFSET, MARKER.length());
            assertThat(Arrays.copyOfRange(after, (int)MARKER_OFFSET, (int)MARKER_OFFSET + MARKER.length()))
                .as("the guest's write is in the image file after it powered off").isEqualTo(MARKER.getBytes());
            // The page cache wrote back whole blocks: the rest of the marker's block and the disk are as they were.
            assertThat(Arrays.equals(after, expected)).as("nothing but the marker changed").isTrue();
            assertThat(Files.readAllBytes(roImage)).as("the read-only image is unchanged").isEqualTo(ro);

            assertThat(rwBackend.log()).as("QEMU acks VIRTIO_SCSI_F_CHANGE, which it adds itself (param_change=on);"
                + " rust-vmm's back-end refuses that SET_FEATURES, ours serves on")
                .contains("SET_FEATURES has bits never offered, ignoring them: 0x4");
            assertThat(rwBackend.log()).doesNotContain("ERROR");
            assertThat(roBackend.log()).doesNotContain("ERROR");
            assertThat(rwBackend.terminate(Duration.ofSeconds(10))).as("exit code after SIGTERM").isZero();
            assertThat(roBackend.terminate(Duration.ofSeconds(10))).as("exit code after SIGTERM").isZero();
        }
    }
}
