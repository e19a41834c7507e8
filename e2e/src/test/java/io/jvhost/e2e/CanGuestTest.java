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
 * {@code jvhost can} with two sockets on its in-process bus, each fronted by QEMU 11.1's generic
 * {@code vhost-user-test-device-pci} (virtio ID 36, 3 queues, 2 bytes of config) for a 6.12 guest with the out-of-tree
 * {@code virtio_can} driver ({@code scripts/setup.sh guestmods}): {@code ip link set can0 up} starts each controller
 * (CAN FD negotiated: MTU 72), a raw CAN socket in guest A sends a classic frame, a CAN FD frame and a remote request
 * that guest B's socket receives exactly and in order, and B's answer reaches A; each driver counts its frames acknowledged and received, and
 * {@code ip link set can0 down} stops each controller.
 */
class CanGuestTest
{
    private static final String CLASSIC = "CAN-RECV id=0x123 ext=0 fd=0 rtr=0 len=6 data=4a56484f5354";
    private static final String RTR = "CAN-RECV id=0x456 ext=0 fd=0 rtr=1 len=4 data=";
    private static final String REPLY = "CAN-RECV id=0x321 ext=0 fd=0 rtr=0 len=5 data=5245504c59";

    static Path buildClient(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("canrt.c");
        try (InputStream in = CanGuestTest.class.getResourceAsStream("canrt.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/canrt").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static canrt.c: %s", out)
            .isTrue();
        return tree;
    }

    private static String script(final String client)
    {
        return Initramfs.PROLOGUE + """
            insmod /oot/virtio_can.ko || echo "JVHOST-CAN insmod failed"
            i=0
            while [ ! -e /sys/class/net/can0 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            ip link set can0 up || echo "JVHOST-CAN ip link set can0 up failed"
            echo "JVHOST-CAN up mtu=$(cat /sys/class/net/can0/mtu) operstate=$(cat /sys/class/net/can0/operstate) END"
            %s
            s=/sys/class/net/can0/statistics
            echo "JVHOST-CAN tx_packets=$(cat $s/tx_packets) rx_packets=$(cat $s/rx_packets) tx_dropped=$(cat $s/tx_dropped) DONE"
            ip link set can0 down && echo "JVHOST-CAN down"
            poweroff -f
            """.formatted(client);
    }

    @Test
    void classicFdAndRemoteFramesFromGuestAArriveInGuestBAndBsAnswerInA(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11().withGuest612();
        env.requireOrSkip();
        final GuestModules modules = GuestModules.require(env);
        final Path tree = modules.addTo(buildClient(dir), "virtio_can");
        final Path initrdA = Initramfs.build(env, dir, script("read -r go; /bin/canrt send can0"), List.of(tree), 6,
            "virtio_pci", "can_dev", "can_raw");
        final Path initrdB = Initramfs.build(env, dir, script("/bin/canrt recv can0 3"), List.of(tree), 6,
            "virtio_pci", "can_dev", "can_raw");

        final Path socketA = dir.resolve("can.sock0");
        final Path socketB = dir.resolve("can.sock1");
        final String generic = "virtio-id=36,num_vqs=3,config_size=2";
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socketA, socketB), "can", "--socket-path",
            dir.resolve("can.sock").toString(), "--socket-count", "2");
            QemuVm b = QemuVm.builder(dir).environment(env).initrd(initrdB).name("b").memory("256M")
                .vhostUserDevice("vhost-user-test-device-pci", socketB, generic).start();
            QemuVm a = QemuVm.builder(dir).environment(env).initrd(initrdA).name("a").memory("256M")
                .vhostUserDevice("vhost-user-test-device-pci", socketA, generic).start())
        {
            final Pattern up = Pattern.compile("JVHOST-CAN up .* END");
            assertThat(a.awaitSerial(up, Duration.ofSeconds(120))).as("guest A's can0 (serial tail: %s; back-end"
                + " log:\n%s)", a.serialTail(10), backend.log()).contains("mtu=72", "operstate=up");
            assertThat(b.awaitSerial(up, Duration.ofSeconds(120))).as("guest B's can0 (serial tail: %s)",
                b.serialTail(10)).contains("mtu=72", "operstate=up");
            b.awaitSerial(Pattern.compile("CAN-READY"), Duration.ofSeconds(60));
            a.sendSerial("go\n");

            final Pattern done = Pattern.compile("JVHOST-CAN tx_packets=.* DONE");
            final String doneB = b.awaitSerial(done, Duration.ofSeconds(120));
            final String doneA = a.awaitSerial(done, Duration.ofSeconds(60));
            assertThat(b.serialLog()).as("guest B received A's frames, in order (back-end log:\n%s)", backend.log())
                .contains(CLASSIC + "\n" + "CAN-RECV id=0x1abcdef0 ext=1 fd=1 rtr=0 len=64 data=" + pattern(64) + "\n"
                    + RTR + "\n")
                .contains("CAN-SENT 1");
            assertThat(a.serialLog()).as("guest A sent its three frames and received B's answer").contains("CAN-SENT 3")
                .contains(REPLY).doesNotContain("CAN-ERROR", "CAN-TIMEOUT");
            assertThat(doneA).as("A: its three frames acknowledged OK, the answer received")
                .contains("tx_packets=3 rx_packets=1 tx_dropped=0");
            assertThat(doneB).as("B: three frames received, the answer acknowledged")
                .contains("tx_packets=1 rx_packets=3 tx_dropped=0");
            assertThat(a.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(b.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(a.serialLog()).as("ip link set can0 down: STOP answered OK").contains("JVHOST-CAN down");
            assertThat(b.serialLog()).contains("JVHOST-CAN down");
            assertThat(backend.log()).contains("can0: controller started on bus:0 member 0 (classic FD RTR)",
                "can1: controller started on bus:0 member 1 (classic FD RTR)", "can0: controller stopped",
                "can1: controller stopped")
                .doesNotContain("ERROR", "refused so far", "dropped");
        }
    }

    private static String pattern(final int n)
    {
        final StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            s.append(String.format("%02x", i));
        }
        return s.toString();
    }
}
