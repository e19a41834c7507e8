package io.jvhost.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
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
 * {@code jvhost rtc} fronted by QEMU 11.1's {@code vhost-user-rtc-pci}, with a 6.12 guest and the out-of-tree
 * {@code virtio_rtc} driver ({@code scripts/setup.sh guestmods}): the UTC clock becomes an RTC class device whose time
 * is the host's within a second or two, and a wake alarm set two seconds ahead through it interrupts the guest's
 * {@code read(2)} of {@code /dev/rtcN} (the device's alarm notification), not before its time.
 */
class RtcGuestTest
{
    private static Path buildHelper(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("rtcalarm.c");
        try (InputStream in = RtcGuestTest.class.getResourceAsStream("rtcalarm.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/rtcalarm").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static rtcalarm.c: %s", out)
            .isTrue();
        return tree;
    }

    @Test
    void theGuestsRtcReadsTheHostsTimeAndItsWakeAlarmFires(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11().withGuest612();
        env.requireOrSkip();
        final GuestModules modules = GuestModules.require(env);
        final Path tree = modules.addTo(buildHelper(dir), "virtio_rtc");

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            insmod /oot/virtio_rtc.ko || echo "JVHOST-RTC insmod failed"
            rtc=""; i=0
            while [ -z "$rtc" ] && [ $i -lt 200 ]; do
              for r in /sys/class/rtc/rtc*; do grep -q virtio_rtc $r/name 2>/dev/null && rtc=$(basename $r); done
              [ -z "$rtc" ] && sleep 0.1; i=$((i+1))
            done
            echo "JVHOST-RTC dev=$rtc name=$(cat /sys/class/rtc/$rtc/name) since_epoch=$(cat /sys/class/rtc/$rtc/since_epoch) END"
            /bin/rtcalarm /dev/$rtc 2 && echo "JVHOST-RTC alarm ok END" || echo "JVHOST-RTC alarm failed END"
            poweroff -f
            """, List.of(tree), 6, "virtio_pci");

        final Path socket = dir.resolve("rtc.sock");
        final long hostBefore = System.currentTimeMillis() / 1000;
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "rtc", "--socket-path",
            socket.toString());
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-rtc-pci", socket, null).start())
        {
            final String clock = vm.awaitSerial(Pattern.compile("JVHOST-RTC dev=.* END"), Duration.ofSeconds(120));
            final long hostAfter = System.currentTimeMillis() / 1000;
            final Matcher m = Pattern.compile("since_epoch=(\\d+)").matcher(clock);
            assertThat(m.find()).as("the guest's virtio RTC (serial: %s, back-end log:\n%s)", clock, backend.log())
                .isTrue();
            assertThat(clock).contains("name=virtio_rtc");
            final long guest = Long.parseLong(m.group(1));
            assertThat(guest).as("the guest's RTC is the host's time").isBetween(hostBefore - 1, hostAfter + 1);
            assertThat(hostAfter - guest).as("read within two seconds of the host's clock").isLessThanOrEqualTo(2);

            final String set = vm.awaitSerial(Pattern.compile("RTCALARM now=\\d+ set=\\d+"), Duration.ofSeconds(60));
            final String result = vm.awaitSerial(Pattern.compile("JVHOST-RTC alarm (ok|failed) END"),
                Duration.ofSeconds(60));
            assertThat(result).as("the alarm (serial tail: %s; back-end log:\n%s)", vm.serialTail(10), backend.log())
                .contains("alarm ok");
            final Matcher fired = Pattern.compile("RTCALARM fired after=(\\d+)").matcher(vm.serialLog());
            assertThat(fired.find()).isTrue();
            assertThat(Long.parseLong(fired.group(1))).as("fired about two seconds after it was set (%s)", set)
                .isBetween(900L, 10_000L);
            assertThat(backend.log().split("alarm of clock 0 \\(UTC\\) notified", -1).length - 1)
                .as("one notification, at its time (Linux re-arms an alarm that fires early):\n%s", backend.log())
                .isEqualTo(1);
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR").doesNotContain("refused so far");
        }
    }
}
