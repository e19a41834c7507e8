package io.jvhost.e2e;

import java.nio.file.Path;
import java.time.Duration;
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
 * Sibling VMs: one {@code jvhost vsock} process serves two QEMU guests given with {@code --vm}, CID 3 (groups g) and
 * CID 4 (groups x+g). Guest 4 listens on port 6000 ({@code vsockc serve}); guest 3 connects to CID 4 port 6000
 * ({@code vsockc connect ... 4}, retried while guest 4 is not listening yet) and the two exchange 1 MiB each way at
 * once. Each guest prints the SHA-256 of what it sent and what it got: what one sent is what the other got.
 */
class VsockSiblingGuestTest
{
    private static final int PAYLOAD = 1 << 20;
    private static final Pattern RESULT = Pattern.compile("JVHOST-SIBLING (sent=(\\w+) got=(\\w+) END|failed)");

    private static String script(final String exchange)
    {
        return Initramfs.PROLOGUE + """
            i=0; while [ ! -e /dev/vsock ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            echo "JVHOST-SIBLING cid=$(/bin/vsockc cid) END"
            head -c %d /dev/urandom > /tmp/out
            if %s; then
              echo "JVHOST-SIBLING sent=$(sha256sum /tmp/out | cut -d' ' -f1) got=$(sha256sum /tmp/in | cut -d' ' -f1) END"
            else
              echo "JVHOST-SIBLING failed"
            fi
            poweroff -f
            """.formatted(PAYLOAD, exchange);
    }

    @Test
    void twoGuestsOfOneProcessSharingAGroupExchangeAMebibyteEachWayExact(@TempDir final Path dir) throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();
        final Path tree = VsockGuestTest.buildClient(dir);
        final Path initrdA = Initramfs.build(env, dir, script("/bin/vsockc connect 6000 /tmp/out /tmp/in %d 4"
            .formatted(PAYLOAD)), List.of(tree), 6, "virtio_pci", "vmw_vsock_virtio_transport");
        final Path initrdB = Initramfs.build(env, dir, script("/bin/vsockc serve 6000 /tmp/out /tmp/in %d"
            .formatted(PAYLOAD)), List.of(tree), 6, "virtio_pci", "vmw_vsock_virtio_transport");
        final Path socketA = dir.resolve("a.sock");
        final Path socketB = dir.resolve("b.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socketA, socketB), "vsock",
            "--vm", "guest-cid=3,socket=" + socketA + ",uds-path=" + dir.resolve("a.vsock") + ",groups=g",
            "--vm", "guest-cid=4,socket=" + socketB + ",uds-path=" + dir.resolve("b.vsock") + ",groups=x+g");
            QemuVm b = QemuVm.builder(dir).environment(env).initrd(initrdB).name("b").memory("256M")
                .vhostUserDevice("vhost-user-vsock-pci", socketB, null).start();
            QemuVm a = QemuVm.builder(dir).environment(env).initrd(initrdA).name("a").memory("256M")
                .vhostUserDevice("vhost-user-vsock-pci", socketA, null).start())
        {
            assertThat(a.awaitSerial(Pattern.compile("JVHOST-SIBLING cid=.* END"), Duration.ofSeconds(120)))
                .contains("cid=3 ");
            assertThat(b.awaitSerial(Pattern.compile("JVHOST-SIBLING cid=.* END"), Duration.ofSeconds(120)))
                .contains("cid=4 ");
            final Matcher atA = RESULT.matcher(a.awaitSerial(RESULT, Duration.ofSeconds(180)));
            final Matcher atB = RESULT.matcher(b.awaitSerial(RESULT, Duration.ofSeconds(60)));
            assertThat(atA.find() && atB.find()).isTrue();
            assertThat(atA.group(2)).as("guest 3 exchanged (guest 3's serial tail: %s; back-end log:\n%s)",
                a.serialTail(5), backend.log()).isNotNull();
            assertThat(atB.group(2)).as("guest 4 exchanged (serial tail: %s)", b.serialTail(5)).isNotNull();
            assertThat(atB.group(3)).as("guest 3 to guest 4, exact").isEqualTo(atA.group(2));
            assertThat(atA.group(3)).as("guest 4 to guest 3, exact").isEqualTo(atB.group(2));
            assertThat(atA.group(2)).as("two different payloads").isNotEqualTo(atB.group(2));
            assertThat(a.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(b.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(backend.log()).contains("vsock0: sibling accepted: CID 4 port 6000")
                .doesNotContain("ERROR", "bad so far");
        }
    }
}
