package io.jvhost.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
 * {@code jvhost scmi} fronted by QEMU 10's {@code qemu-system-aarch64 -M virt -cpu max} with
 * {@code vhost-user-scmi-pci}, an arm64 6.12 guest and the cross-built {@code scmi_transport_virtio} and
 * {@code scmi-hwmon} modules ({@code scripts/setup.sh arm64}). The device tree is QEMU's own ({@code dumpdtb}, same
 * memory and CPU) with an {@code arm,scmi-virtio} node and its SENSOR protocol added by {@code dtc}. One boot checks:
 * the guest's SCMI core takes the BASE protocol's vendor strings and version, and its hwmon device
 * {@code scmi_sensors} shows the back-end's sensors by name: the fake thermometer counting up one degree per reading,
 * and an IIO temperature channel whose sysfs file (a fake tree in a temp folder) the host changes while the guest
 * waits, read again after; three more thermometers make six sensors, whose descriptions Linux reads in two pages. The
 * fake accelerometer (vhost-device-scmi's, three axes) is not a hwmon type: the cross-built {@code scmi_iio} makes it
 * an IIO device whose {@code in_accel_[xyz]_raw} each read it once (enable, timestamped reading, disable).
 */
class ScmiGuestTest
{
    private static final String MEMORY = "512M";

    /** The node Linux's SCMI core binds the virtio transport through, with the SENSOR protocol (0x15). */
    private static final String SCMI_NODE = """

        / {
        \tfirmware {
        \t\tscmi {
        \t\t\tcompatible = "arm,scmi-virtio";
        \t\t\t#address-cells = <1>;
        \t\t\t#size-cells = <0>;

        \t\t\tprotocol@15 {
        \t\t\t\treg = <0x15>;
        \t\t\t};
        \t\t};
        \t};
        };
        """;

    private static String run(final Path dir, final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0).as("%s: %s", String.join(" ", command), out)
            .isTrue();
        return out;
    }

    /**
     * QEMU's device tree for {@code -M virt -cpu max -m MEMORY}, with {@link #SCMI_NODE} added.
     */
    private static Path deviceTree(final GuestEnvironment env, final Path dir) throws Exception
    {
        final Path dtb = dir.resolve("virt.dtb");
        run(dir, env.qemu().toString(), "-machine", "virt,dumpdtb=" + dtb, "-cpu", "max", "-m", MEMORY,
            "-nodefaults", "-display", "none");
        final Path dts = dir.resolve("virt-scmi.dts");
        run(dir, "dtc", "-q", "-I", "dtb", "-O", "dts", "-o", dts.toString(), dtb.toString());
        Files.writeString(dts, Files.readString(dts) + SCMI_NODE);
        final Path out = dir.resolve("virt-scmi.dtb");
        run(dir, "dtc", "-q", "-I", "dts", "-O", "dtb", "-o", out.toString(), dts.toString());
        return out;
    }

    @Test
    void theGuestsHwmonShowsTheFakeAndIioSensors(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withArm64Guest();
        env.requireOrSkip();
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("oot"));
        for (final String module : List.of("scmi_transport_virtio", "scmi-hwmon", "scmi_iio"))
        {
            Files.copy(env.guestDir().resolve("modules").resolve(module + ".ko"),
                tree.resolve("oot").resolve(module + ".ko"));
        }
        final Path iio = Files.createDirectories(dir.resolve("iio:device0"));
        Files.writeString(iio.resolve("in_temp_raw"), "36600\n");
        final Path dtb = deviceTree(env, dir);

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            insmod /oot/scmi_transport_virtio.ko || echo "JVHOST-SCMI insmod scmi_transport_virtio failed"
            insmod /oot/scmi-hwmon.ko || echo "JVHOST-SCMI insmod scmi-hwmon failed"
            insmod /oot/scmi_iio.ko || echo "JVHOST-SCMI insmod scmi_iio failed"
            h=""; i=0
            while [ -z "$h" ] && [ $i -lt 300 ]; do
              for d in /sys/class/hwmon/hwmon*; do grep -qx scmi_sensors $d/name 2>/dev/null && h=$d; done
              [ -z "$h" ] && sleep 0.1; i=$((i+1))
            done
            dmesg | grep -i scmi | sed 's/^/JVHOST-DMESG /'
            echo "JVHOST-SCMI hwmon=$h name=$(cat $h/name) label1=$(cat $h/temp1_label) a=$(cat $h/temp1_input) b=$(cat $h/temp1_input) label2=$(cat $h/temp2_label) iio=$(cat $h/temp2_input) label5=$(cat $h/temp5_label) END"
            a=""; i=0
            while [ -z "$a" ] && [ $i -lt 100 ]; do
              for d in /sys/bus/iio/devices/iio:device*; do grep -qx fake $d/name 2>/dev/null && a=$d; done
              [ -z "$a" ] && sleep 0.1; i=$((i+1))
            done
            echo "JVHOST-SCMI accel=$a x=$(cat $a/in_accel_x_raw) y=$(cat $a/in_accel_y_raw) z=$(cat $a/in_accel_z_raw) END"
            read go
            echo "JVHOST-SCMI again iio=$(cat $h/temp2_input) END"
            poweroff -f
            """, List.of(tree), 6, "industrialio", "kfifo_buf");

        final Path socket = dir.resolve("scmi.sock");
        final List<String> args = new ArrayList<>(List.of("scmi", "--socket-path", socket.toString(), "-d", "fake",
            "-d", "fake,name=jvtemp,kind=thermometer", "-d", "iio,path=" + iio + ",channel=in_temp,name=hosttemp"));
        // Six sensors: Linux reads their descriptions in two pages (4 fit its 136-byte buffer).
        for (int i = 3; i <= 5; i++)
        {
            args.addAll(List.of("-d", "fake,name=t" + i + ",kind=thermometer"));
        }
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), args.toArray(String[]::new));
            QemuVm vm = QemuVm.builder(dir).environment(env).memory(MEMORY).initrd(initrd)
                .append("console=ttyAMA0 quiet panic=-1")
                .args("-dtb", dtb.toString())
                .vhostUserDevice("vhost-user-scmi-pci", socket, null).start())
        {
            final String line = vm.awaitSerial(Pattern.compile("JVHOST-SCMI hwmon=.* END"), Duration.ofSeconds(120));
            assertThat(line).as("the guest's hwmon (serial tail: %s; back-end log:\n%s)", vm.serialTail(30),
                backend.log()).contains("name=scmi_sensors", "label1=jvtemp", "label2=hosttemp", "iio=36600 ", "label5=t5 ");
            final Matcher m = Pattern.compile(" a=(\\d+) b=(\\d+) ").matcher(line);
            assertThat(m.find()).as(line).isTrue();
            final long a = Long.parseLong(m.group(1));
            assertThat(a % 1000).as("whole degrees in millidegrees: %s", line).isZero();
            assertThat(Long.parseLong(m.group(2))).as("the fake counts up one degree per reading: %s", line)
                .isEqualTo((a + 1000) % 256_000);
            assertThat(vm.serialLog()).as("the SCMI core took the BASE protocol")
                .contains("SCMI Protocol v2.0 'jvhost:vhost-user' Firmware version 0x10000");

            final String accel = vm.awaitSerial(Pattern.compile("JVHOST-SCMI accel=.* END"), Duration.ofSeconds(60));
            final Matcher xyz = Pattern.compile("accel=/sys/bus/iio/devices/iio:device\\d+ x=(\\d+) y=(\\d+) z=(\\d+) ")
                .matcher(accel);
            assertThat(xyz.find()).as("the fake accelerometer through the guest's scmi_iio: %s", accel).isTrue();
            final int x = Integer.parseInt(xyz.group(1));
            assertThat(new int[] {Integer.parseInt(xyz.group(2)), Integer.parseInt(xyz.group(3))})
                .as("three readings, one per axis file: v, v+1 (+100 on Y), v+2 (+200 on Z): %s", accel)
                .containsExactly((x + 1) % 256 + 100, (x + 2) % 256 + 200);

            Files.writeString(iio.resolve("in_temp_raw"), "-2500\n");
            vm.sendSerial("go\n");
            final String again = vm.awaitSerial(Pattern.compile("JVHOST-SCMI again .* END"), Duration.ofSeconds(60));
            assertThat(again).as("the host's new value, read through the device").contains("iio=-2500 ");
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            // Linux asks for optional messages (NOT_SUPPORTED, NOT_FOUND); nothing it sends is malformed or misread.
            assertThat(backend.log()).doesNotContain("ERROR").doesNotContain("answered INVALID_PARAMETERS")
                .doesNotContain("returned empty");
        }
    }
}
