package io.jvhost.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.GuestModules;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost spi -l sim:loopback:eeprom} fronted by QEMU 11.1's {@code vhost-user-spi-pci} (a 4-entry queue, the
 * 32-byte config read with GET_CONFIG), with a 6.12 guest and the out-of-tree {@code spi-virtio} driver
 * ({@code scripts/setup.sh guestmods}) whose test hook ({@code test_spidev=1}) puts a spidev on each chip select. In
 * one boot a static client ({@code spidevc.c}) does SPI_IOC_MESSAGE on {@code /dev/spidev0.0}, the loopback: a
 * full-duplex transfer receives exactly its bytes; and on {@code /dev/spidev0.1}, the EEPROM: a half-duplex WRITE, then
 * a full-duplex READ and a two-transfer READ (the message's transfers as separate requests) return exactly what was
 * written, LOOP mode loops back, and a clock above the config's max_freq_hz fails with EINVAL (PARAM_ERR).
 */
class SpiGuestTest
{
    private static Path buildClient(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("spidevc.c");
        try (InputStream in = SpiGuestTest.class.getResourceAsStream("spidevc.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/spidevc").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static spidevc.c: %s", out)
            .isTrue();
        return tree;
    }

    @Test
    void theGuestsSpidevLoopsBackAndWritesAndReadsTheSimulatedEepromExactly(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11().withGuest612();
        env.requireOrSkip();
        final GuestModules modules = GuestModules.require(env);
        final Path tree = modules.addTo(buildClient(dir), "spi-virtio");

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            insmod /oot/spi-virtio.ko test_spidev=1 || echo "JVHOST-SPI insmod failed"
            i=0; while [ ! -e /dev/spidev0.1 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            echo "JVHOST-SPI devs=$(ls /dev | grep spidev | tr '\\n' ' ')END"
            /bin/spidevc loop /dev/spidev0.0; echo "JVHOST-SPI loop exit=$? END"
            /bin/spidevc eeprom /dev/spidev0.1; echo "JVHOST-SPI eeprom exit=$? END"
            echo "JVHOST-SPI done"
            poweroff -f
            """, List.of(tree), 6, "virtio_pci");

        final Path socket = dir.resolve("spi.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "spi", "--socket-path",
            dir.resolve("spi.sock").toString(), "--device", "sim:loopback:eeprom");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-spi-pci", socket, null).start())
        {
            final String devs = vm.awaitSerial(Pattern.compile("JVHOST-SPI devs=.* END"), Duration.ofSeconds(120));
            assertThat(devs).as("a spidev on each chip select (back-end log:\n%s)", backend.log())
                .contains("spidev0.0 spidev0.1 ");
            vm.awaitSerial(Pattern.compile("JVHOST-SPI done"), Duration.ofSeconds(120));
            final String serial = vm.serialLog();
            assertThat(serial).as("full duplex on the loopback").contains("SPI-LOOP rc=8 rx=JVSPI-01 END")
                .contains("JVHOST-SPI loop exit=0 END");
            assertThat(serial).as("a half-duplex WRITE").contains("SPI-WRITE rc=8 END");
            assertThat(serial).as("a full-duplex READ").contains("SPI-READ rc=8 data=JVHOST END")
                .contains("SPI-READ-RAW ff ff 4a 56 48 4f 53 54 END");
            assertThat(serial).as("READ and address, then a half-duplex read, one message")
                .contains("SPI-READ2 rc=6 data=HOST END");
            assertThat(serial).as("LOOP mode").contains("SPI-LOOPMODE set=0 rc=4 END")
                .contains("SPI-LOOPMODE-RX 05 a5 5a 3c END");
            assertThat(serial).as("100 MHz is above max_freq_hz: PARAM_ERR, EINVAL in the guest")
                .contains("SPI-FAST rc=-22 Invalid argument END");
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR");
            assertThat(backend.log()).as("exactly the one refusal, the clock").contains("50000000")
                .contains("1 refused so far").doesNotContain("2 refused so far");
        }
    }
}
