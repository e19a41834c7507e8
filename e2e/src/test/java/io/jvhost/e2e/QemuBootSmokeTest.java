package io.jvhost.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.QemuVm;

/** Boots the test guest under TCG: the kernel, the initramfs, the console, the monitor, power-off. */
class QemuBootSmokeTest {

    @Test
    void guestBootsPrintsMarkerAndPowersOff(@TempDir Path dir) {
        GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();

        Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
                echo "JVHOST-SMOKE-MARKER kernel=$(uname -r) modules=$(wc -l < /modules.order)"
                read -r reply
                echo "JVHOST-SMOKE-REPLY $reply"
                poweroff -f
                """, "virtio_pci");

        long started = System.nanoTime();
        try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd).start()) {
            String marker = vm.awaitSerial(Pattern.compile("JVHOST-SMOKE-MARKER"), Duration.ofSeconds(120));
            long bootMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(marker).contains("kernel=" + env.kernelVersion()).contains("modules=5");

            assertThat(vm.hmp("info version")).startsWith(String.valueOf(env.qemuMajor()) + ".");
            assertThat(vm.hmp("info status")).contains("running");

            vm.sendSerial("pong\n");
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-SMOKE-REPLY"), Duration.ofSeconds(60)))
                    .endsWith("JVHOST-SMOKE-REPLY pong");

            assertThat(vm.awaitExit(Duration.ofSeconds(60))).isZero();
            assertThat(vm.serialLog()).doesNotContain("Kernel panic", "JVHOST-INIT: some modules failed");
            System.out.printf("guest boot to marker: %d ms, to exit: %d ms%n",
                    bootMillis, (System.nanoTime() - started) / 1_000_000);
        }
    }
}
