package io.jvhost.e2e;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
 * {@code jvhost i2c} with a simulated EEPROM at 0x50 and LM75 at 0x48, fronted by QEMU 10's
 * {@code vhost-user-i2c-pci} (a 4-entry queue: every multi-message transfer needs INDIRECT_DESC), with a 6.12 guest
 * and the out-of-tree {@code i2c-virtio} driver ({@code scripts/setup.sh guestmods}) and busybox's i2c tools:
 * {@code i2cdetect} finds exactly the two clients, {@code i2cset}/{@code i2cget} and {@code i2ctransfer} round-trip
 * the EEPROM's bytes exactly, {@code i2cget ... w} reads the sensor's temperature, and a client that is not there
 * fails the guest's read.
 */
class I2cGuestTest
{
    @Test
    void theGuestsI2cToolsFindReadAndWriteTheSimulatedClientsExactly(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withGuest612();
        env.requireOrSkip();
        final GuestModules modules = GuestModules.require(env);
        final Path tree = modules.addTo(dir.resolve("tree"), "i2c-virtio");

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            insmod /oot/i2c-virtio.ko || echo "JVHOST-I2C insmod failed"
            bus=""; i=0
            while [ -z "$bus" ] && [ $i -lt 200 ]; do
              for d in /sys/bus/i2c/devices/i2c-*; do grep -qi virtio $d/name 2>/dev/null && bus=${d##*-}; done
              [ -z "$bus" ] && sleep 0.1; i=$((i+1))
            done
            i=0; while [ ! -e /dev/i2c-$bus ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            echo "JVHOST-I2C bus=$bus name=$(cat /sys/bus/i2c/devices/i2c-$bus/name) END"
            i2cdetect -y $bus | sed 's/^/JVHOST-I2C detect /'
            i2cset -y $bus 0x50 0x20 0x42 && echo "JVHOST-I2C set rc=0"
            echo "JVHOST-I2C get=$(i2cget -y $bus 0x50 0x20) END"
            i2ctransfer -y $bus w17@0x50 0x00 0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08 0x09 0x0a 0x0b 0x0c 0x0d 0x0e 0x0f 0xf0
            echo "JVHOST-I2C dump=$(i2ctransfer -y $bus w1@0x50 0x00 r16) END"
            echo "JVHOST-I2C temp=$(i2cget -y $bus 0x48 0x00 w) END"
            i2cget -y $bus 0x51 0x00 >/dev/null 2>&1; echo "JVHOST-I2C absent rc=$? END"
            echo "JVHOST-I2C done"
            poweroff -f
            """, List.of(tree), 6, "virtio_pci", "i2c_dev");

        final Path socket = dir.resolve("i2c.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "i2c", "--socket-path",
            dir.resolve("i2c.sock").toString(), "--device-list", "sim:0x50=eeprom:0x48=lm75/42.5");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-i2c-pci", socket, null).start())
        {
            final String bus = vm.awaitSerial(Pattern.compile("JVHOST-I2C bus=.* END"), Duration.ofSeconds(120));
            assertThat(bus).as("the virtio adapter (back-end log:\n%s)", backend.log()).containsPattern("bus=\\d+ ");
            vm.awaitSerial(Pattern.compile("JVHOST-I2C done"), Duration.ofSeconds(120));
            final String serial = vm.serialLog();
            assertThat(serial).as("i2cdetect: the LM75 at 0x48").containsPattern(
                "JVHOST-I2C detect 40: -- -- -- -- -- -- -- -- 48 -- -- -- -- -- -- --");
            assertThat(serial).as("i2cdetect: the EEPROM at 0x50").containsPattern(
                "JVHOST-I2C detect 50: 50 -- -- -- -- -- -- -- -- -- -- -- -- -- -- --");
            assertThat(serial).as("nothing else").containsPattern(
                "JVHOST-I2C detect 30: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --");
            assertThat(serial).contains("JVHOST-I2C set rc=0");
            assertThat(serial).contains("JVHOST-I2C get=0x42 END");
            assertThat(serial).contains("JVHOST-I2C dump=0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08 0x09 0x0a 0x0b 0x0c"
                + " 0x0d 0x0e 0x0f 0xf0 END");
            assertThat(serial).as("42.5 °C is 0x2a80, read low byte first").contains("JVHOST-I2C temp=0x802a END");
            assertThat(serial).as("nobody at 0x51").containsPattern("JVHOST-I2C absent rc=[1-9]\\d* END");
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR").doesNotContain("refused so far");
        }
    }
}
