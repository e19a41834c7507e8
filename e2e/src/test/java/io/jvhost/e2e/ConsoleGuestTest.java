package io.jvhost.e2e;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost console --backend network} fronted by QEMU 11.1's generic device, as vhost-device-console is
 * ({@code virtio-id=3,num_vqs=4,config_size=12}), with a 6.1 guest whose virtio_console is a module: random bytes
 * go from a TCP client to the guest's {@code /dev/hvc0} (the guest prints their SHA-256 on its serial console) and
 * the guest sends them back (the client compares them byte for byte). Then the guest removes and re-inserts the
 * driver: the back-end logs port 0 closed and opened again.
 */
class ConsoleGuestTest
{
    private static final int PAYLOAD = 256 * 1024;
    private static final Pattern TCP_PORT = Pattern.compile("console on tcp 127\\.0\\.0\\.1:(\\d+)");
    private static final String OPENED = "port 0 opened by the guest (PORT_OPEN 1)";
    private static final String CLOSED = "port 0 closed: the driver reset the device";

    @Test
    void bytesCrossExactlyBothWaysBetweenATcpClientAndTheGuestsHvc0AndThePortOpensAndCloses(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withQemu11();
        env.requireOrSkip();

        final byte[] payload = new byte[PAYLOAD];
        new Random(7).nextBytes(payload);
        final String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(payload));

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            # /dev/hvc0 exists as soon as the hvc driver registers, but opens (ENODEV before) only once the port has
            # become the console; virtio_console's debugfs says when. No probing open: its close would hang the tty up.
            mkdir -p /sys/kernel/debug && mount -t debugfs none /sys/kernel/debug
            console_up() { grep -qs 'is_console: yes' /sys/kernel/debug/virtio-ports/vport*p0; }
            i=0; until console_up || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done
            # Open (and keep open) the tty before the host may send: hvc passes input on only to an open tty.
            exec 3<>/dev/hvc0
            stty raw -echo <&3
            echo "JVHOST-CONSOLE ready name=$(cat /sys/class/virtio-ports/vport0p0/name) END"
            head -c %d <&3 > /tmp/in
            echo "JVHOST-CONSOLE got sha=$(sha256sum /tmp/in | cut -d' ' -f1) END"
            cat /tmp/in >&3
            exec 3<&-
            read -r go
            rmmod virtio_console && echo "JVHOST-CONSOLE removed"
            insmod $(grep virtio_console /modules.order) && echo "JVHOST-CONSOLE inserted"
            i=0; until console_up || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done
            console_up && echo "JVHOST-CONSOLE back hvc0=$(ls /dev/hvc0) END"
            poweroff -f
            """.formatted(PAYLOAD), "virtio_pci", "virtio_console");

        final long started = System.nanoTime();
        final Path socket = dir.resolve("console.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "console", "--socket-path",
            dir.resolve("console.sock").toString(), "--backend", "network", "--tcp-port", "0");
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-test-device-pci", socket, "virtio-id=3,num_vqs=4,config_size=12")
                .start())
        {
            final Matcher port = TCP_PORT.matcher(backend.log());
            assertThat(port.find()).as("the back-end logs its TCP port:\n%s", backend.log()).isTrue();
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(port.group(1))))
            {
                client.setSoTimeout(60_000);
                final String ready = vm.awaitSerial(Pattern.compile("JVHOST-CONSOLE ready .* END"),
                    Duration.ofSeconds(90));
                assertThat(ready).as("the port's name as the guest sees it").contains("name=org.jvhost.console.0 ");
                assertThat(Await.until(() -> backend.log().contains(OPENED), Duration.ofSeconds(10)))
                    .as("the driver opened the console port:\n%s", backend.log()).isTrue();

                final InputStream in = client.getInputStream();
                final OutputStream out = client.getOutputStream();
                final CompletableFuture<byte[]> echo = CompletableFuture.supplyAsync(() ->
                {
                    try
                    {
                        return in.readNBytes(PAYLOAD);
                    }
                    catch (final java.io.IOException e)
                    {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                out.write(payload);
                out.flush();
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-CONSOLE got sha=.* END"), Duration.ofSeconds(60)))
                    .as("host to guest, exact").contains("sha=" + sha + " ");
                assertThat(echo.get()).as("guest to host, exact").isEqualTo(payload);
                System.out.printf("payload there and back: %d ms after start%n",
                    (System.nanoTime() - started) / 1_000_000);
            }

            vm.sendSerial("go\n");
            vm.awaitSerial(Pattern.compile("JVHOST-CONSOLE inserted"), Duration.ofSeconds(30));
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-CONSOLE back .* END"), Duration.ofSeconds(30)))
                .contains("hvc0=/dev/hvc0");
            assertThat(Await.until(() -> backend.log().split(Pattern.quote(OPENED), -1).length == 3,
                Duration.ofSeconds(10))).as("opened again after the driver came back:\n%s", backend.log()).isTrue();
            final String log = backend.log();
            assertThat(log.indexOf(CLOSED)).as("closed between the two opens:\n%s", log)
                .isGreaterThan(log.indexOf(OPENED)).isLessThan(log.lastIndexOf(OPENED));
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR");
            System.out.printf("whole test: %d ms%n", (System.nanoTime() - started) / 1_000_000);
        }
    }
}
