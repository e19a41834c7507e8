package io.jvhost.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
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
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost gpio -l s8 --control-socket}, fronted by QEMU 10's {@code vhost-user-gpio-pci}, with a 6.12 guest
 * and the out-of-tree {@code gpio-virtio} driver ({@code scripts/setup.sh guestmods}), through the guest's sysfs GPIO
 * interface (whose base differs between kernels, so it is read from {@code gpiochipN/base}): the chip has 8 lines
 * named sim0..sim7 (an exported line appears under its name), a line the guest sets to output 1 reads so on the
 * control socket, an input the control socket drives reads so in the guest, and a rising edge driven on the control
 * socket wakes a guest waiting in {@code poll} on the line's value.
 */
class GpioGuestTest
{
    private static Path buildHelper(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("gpiowait.c");
        try (InputStream in = GpioGuestTest.class.getResourceAsStream("gpiowait.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/gpiowait").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static gpiowait.c: %s", out)
            .isTrue();
        return tree;
    }

    @Test
    void theGuestNamesSetsReadsAndWaitsOnSimulatedLines(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect().withGuest612();
        env.requireOrSkip();
        final GuestModules modules = GuestModules.require(env);
        final Path tree = modules.addTo(buildHelper(dir), "gpio-virtio");

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            insmod /oot/gpio-virtio.ko || echo "JVHOST-GPIO insmod failed"
            chip=""; i=0
            while [ -z "$chip" ] && [ $i -lt 200 ]; do
              for c in /sys/class/gpio/gpiochip*; do grep -q virtio $c/label 2>/dev/null && chip=$c; done
              [ -z "$chip" ] && sleep 0.1; i=$((i+1))
            done
            base=$(cat $chip/base)
            echo "JVHOST-GPIO chip=$(basename $chip) label=$(cat $chip/label) ngpio=$(cat $chip/ngpio) END"
            echo $((base+0)) > /sys/class/gpio/export
            echo $((base+3)) > /sys/class/gpio/export
            echo $((base+4)) > /sys/class/gpio/export
            echo $((base+5)) > /sys/class/gpio/export
            echo "JVHOST-GPIO names=$(ls -d /sys/class/gpio/sim* | xargs -n1 basename | tr '\\n' ' ')END"
            echo out > /sys/class/gpio/sim3/direction
            echo 1 > /sys/class/gpio/sim3/value
            echo "JVHOST-GPIO out3=$(cat /sys/class/gpio/sim3/direction),$(cat /sys/class/gpio/sim3/value) END"
            read -r go
            echo "JVHOST-GPIO in4=$(cat /sys/class/gpio/sim4/direction),$(cat /sys/class/gpio/sim4/value) END"
            echo in > /sys/class/gpio/sim5/direction
            echo rising > /sys/class/gpio/sim5/edge
            /bin/gpiowait /sys/class/gpio/sim5/value 30000
            echo "JVHOST-GPIO done"
            poweroff -f
            """, List.of(tree), 6, "virtio_pci");

        final Path socket = dir.resolve("gpio.sock0");
        final Path control = dir.resolve("gpio.ctl0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpio", "--socket-path",
            dir.resolve("gpio.sock").toString(), "--device-list", "s8", "--control-socket",
            dir.resolve("gpio.ctl").toString());
            QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                .vhostUserDevice("vhost-user-gpio-pci", socket, null).start())
        {
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-GPIO chip=.* END"), Duration.ofSeconds(120)))
                .as("the virtio chip (back-end log:\n%s)", backend.log()).contains("ngpio=8 ");
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-GPIO names=.*END"), Duration.ofSeconds(30)))
                .as("exported lines appear under their names").contains("names=sim0 sim3 sim4 sim5 END");
            assertThat(vm.awaitSerial(Pattern.compile("JVHOST-GPIO out3=.* END"), Duration.ofSeconds(30)))
                .contains("out3=out,1 ");
            assertThat(Await.until(() -> Files.exists(control), Duration.ofSeconds(10))).isTrue();
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(control)))
            {
                final OutputStream out = Channels.newOutputStream(client);
                final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                    StandardCharsets.US_ASCII));
                out.write("get 3\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).as("the guest's output, seen on the host").isEqualTo(
                    "3 dir=out value=1 irq=none");
                out.write("set 4 1\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).isEqualTo("ok");
                vm.sendSerial("go\n");
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-GPIO in4=.* END"), Duration.ofSeconds(30)))
                    .as("the host's input, seen in the guest").contains("in4=in,1 ");
                vm.awaitSerial(Pattern.compile("GPIOWAIT armed value=0"), Duration.ofSeconds(30));
                out.write("get 5\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).as("the guest armed the line").isEqualTo("5 dir=in value=0 irq=edge-rising");
                out.write("set 5 1\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).isEqualTo("ok");
                assertThat(vm.awaitSerial(Pattern.compile("GPIOWAIT (edge|timeout).*"), Duration.ofSeconds(40)))
                    .as("the interrupt reached the guest (back-end log:\n%s)", backend.log())
                    .isEqualTo("GPIOWAIT edge value=1");
            }
            vm.awaitSerial(Pattern.compile("JVHOST-GPIO done"), Duration.ofSeconds(30));
            assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).doesNotContain("ERROR").doesNotContain("refused so far");
        }
    }
}
