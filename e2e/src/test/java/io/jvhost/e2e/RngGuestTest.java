package io.jvhost.e2e;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
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
 * A real guest reads /dev/hwrng through QEMU's vhost-user-rng-pci and {@code jvhost rng}; the bytes land on a
 * virtio-blk disk the test reads back. Then a second guest is served by the same back-end process, which finally
 * stops cleanly on SIGTERM and removes its socket.
 */
class RngGuestTest
{
    private static final int ONE_MIB = 1 << 20;

    @Test
    void guestReadsRandomBytesFromJvhostAndASecondGuestIsServedByTheSameProcess(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();

        final Path socketBase = dir.resolve("rng.sock");
        final Path socket = dir.resolve("rng.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "rng", "--socket-path",
            socketBase.toString()))
        {
            final byte[] first = bootGuestReading(env, dir.resolve("guest1"), socket, ONE_MIB);
            assertLooksRandom(first);

            final byte[] second = bootGuestReading(env, dir.resolve("guest2"), socket, 64 * 1024);
            assertLooksRandom(second);
            assertThat(second).isNotEqualTo(java.util.Arrays.copyOf(first, second.length));

            System.out.println("back-end log:\n" + backend.log());
            assertThat(backend.process().isAlive()).as("back-end survives both guests").isTrue();
            assertThat(backend.log()).contains("front-end disconnected").doesNotContain("ERROR");
            assertThat(backend.terminate(Duration.ofSeconds(10))).as("exit code after SIGTERM").isZero();
            assertThat(socket).as("socket file removed on SIGTERM").doesNotExist();
        }
    }

    private static byte[] bootGuestReading(final GuestEnvironment env, final Path dir, final Path socket,
        final int bytes) throws Exception
    {
        Files.createDirectories(dir);
        final Path disk = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw"))
        {
            f.setLength(2L * ONE_MIB);
        }
        final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
            echo "JVHOST-RNG current=$(cat /sys/class/misc/hw_random/rng_current) END"
            head -c %d /dev/hwrng > /dev/vda && sync
            echo "JVHOST-RNG-DONE md5=$(head -c %d /dev/vda | md5sum | cut -d' ' -f1)"
            poweroff -f
            """.formatted(bytes, bytes), "virtio_pci", "virtio_rng", "virtio_blk");

        try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd)
            .vhostUserDevice("vhost-user-rng-pci", socket, "")
            .args("-drive", "file=" + disk + ",format=raw,if=virtio")
            .start())
        {
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-RNG current=.* END"), Duration.ofSeconds(120)))
                .as("the guest's hwrng is the virtio one").contains("virtio_rng");
            final String done = vm.awaitSerial(Pattern.compile("JVHOST-RNG-DONE md5=[0-9a-f]{32}"), Duration.ofSeconds(240));
            assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();

            final byte[] data = new byte[bytes];
            try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r"))
            {
                f.readFully(data);
            }
            final Matcher m = Pattern.compile("md5=([0-9a-f]{32})").matcher(done);
            assertThat(m.find()).as("guest printed an md5: " + done).isTrue();
            assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data)))
                .as("bytes on the disk are the ones the guest read").isEqualTo(m.group(1));
            return data;
        }
    }

    /**
     * Every byte value appears, none far more often than the others: true of uniform random data with
     * overwhelming probability, false of zeros, a constant, or a short repeating pattern.
     */
    private static void assertLooksRandom(final byte[] data)
    {
        final int[] counts = new int[256];
        for (final byte b : data)
        {
            counts[b & 0xFF]++;
        }
        final double expected = data.length / 256.0;
        double chiSquare = 0;
        for (final int c : counts)
        {
            chiSquare += (c - expected) * (c - expected) / expected;
        }
        assertThat(counts).as("every byte value occurs").doesNotContain(0);
        // 255 degrees of freedom: the 99.999th percentile is about 370.
        assertThat(chiSquare).as("chi-square of the byte histogram").isLessThan(400.0);
    }
}
