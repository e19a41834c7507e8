package io.jvhost.e2e;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResetMeasureTest
{
    @Test
    void measure(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();
        final Path initrd = Initramfs.build(dir, Initramfs.PROLOGUE + """
            while [ ! -e /dev/fb0 ]; do sleep 0.2; done
            echo "JVHOST-M ready END"
            while read -r cmd arg; do
              case "$cmd" in
                reset) dev=$(basename $(ls -d /sys/bus/virtio/drivers/virtio_gpu/virtio*))
                       echo $dev > /sys/bus/virtio/drivers/virtio_gpu/unbind
                       echo "JVHOST-M unbound END"
                       sleep 1
                       echo $dev > /sys/bus/virtio/drivers/virtio_gpu/bind
                       while [ ! -e /dev/fb0 ]; do sleep 0.2; done
                       echo "JVHOST-M ready END" ;;
                done) break ;;
              esac
            done
            poweroff -f
            """, "virtio_pci", "virtio_gpu");
        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpu", "-v", "--socket-path",
            socket.toString()))
        {
            try (QemuVm vm = QemuVm.builder(dir).kernel(env.kernel()).initrd(initrd)
                .vhostUserDevice("vhost-user-gpu-pci", socket, "id=gpu0,xres=640,yres=480")
                .args("-action", "reboot=reset")
                .start())
            {
                vm.awaitSerial(Pattern.compile("JVHOST-M ready END"), Duration.ofSeconds(120));
                Thread.sleep(3000);
                System.out.println("=== MARK booted " + backend.log().lines().count());
                vm.hmp("stop");
                vm.hmp("cont");
                Thread.sleep(3000);
                System.out.println("=== MARK stopcont " + backend.log().lines().count());
                vm.sendSerial("reset\n");
                vm.awaitSerial(Pattern.compile("JVHOST-M ready END"), Duration.ofSeconds(60));
                Thread.sleep(3000);
                System.out.println("=== MARK rebind " + backend.log().lines().count());
                vm.hmp("system_reset");
                vm.awaitSerial(Pattern.compile("JVHOST-M ready END"), Duration.ofSeconds(120));
                Thread.sleep(3000);
                System.out.println("=== MARK system_reset " + backend.log().lines().count());
                vm.sendSerial("done\n");
                vm.awaitExit(Duration.ofSeconds(60));
            }
            System.out.println("back-end log:\n" + backend.log());
        }
    }
}
