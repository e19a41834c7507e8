package io.jvhost.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import io.jvhost.e2e.support.GuestEnvironment;
import io.jvhost.e2e.support.Initramfs;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.e2e.support.QemuVm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost vsock} fronted by QEMU 10's {@code vhost-user-vsock-pci}, with a guest running {@code vsockc} (a static
 * C program built here with gcc from a test resource): the guest reads its CID from /dev/vsock, connects to host
 * port 1234 (the back-end connects to {@code <uds-path>_1234}, where this test listens) and exchanges 1 MiB each way
 * at once, both compared by SHA-256; then the host connects to a guest listener on port 5000 through
 * {@code CONNECT 5000}, gets {@code OK <port>} and has 256 KiB echoed back exact.
 */
class VsockGuestTest
{
    private static final int PAYLOAD = 1 << 20;
    private static final int ECHO = 256 * 1024;

    private static String sha256(final byte[] bytes) throws NoSuchAlgorithmException
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** Builds vsockc statically into {@code tree/bin}. */
    static Path buildClient(final Path dir) throws IOException, InterruptedException
    {
        final Path source = dir.resolve("vsockc.c");
        try (InputStream in = VsockGuestTest.class.getResourceAsStream("vsockc.c"))
        {
            Files.copy(in, source);
        }
        final Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        final Process gcc = new ProcessBuilder("gcc", "-static", "-O2", "-s", "-Wall", "-o",
            tree.resolve("bin/vsockc").toString(), source.toString()).redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(120, TimeUnit.SECONDS) && gcc.exitValue() == 0).as("gcc -static vsockc.c: %s", out)
            .isTrue();
        return tree;
    }

    @Test
    void guestReadsItsCidStreamsAMebibyteBothWaysExactAndTheHostConnectsIntoAGuestListener(@TempDir final Path dir)
        throws Exception
    {
        final GuestEnvironment env = GuestEnvironment.detect();
        env.requireOrSkip();
        final Path tree = buildClient(dir);

        final byte[] toGuest = new byte[PAYLOAD];
        new Random(41).nextBytes(toGuest);
        final byte[] echo = new byte[ECHO];
        new Random(42).nextBytes(echo);

        final Path initrd = Initramfs.build(env, dir, Initramfs.PROLOGUE + """
            i=0; while [ ! -e /dev/vsock ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            echo "JVHOST-VSOCK cid=$(/bin/vsockc cid) END"
            head -c %d /dev/urandom > /tmp/out
            if /bin/vsockc connect 1234 /tmp/out /tmp/in %d; then
              echo "JVHOST-VSOCK sent=$(sha256sum /tmp/out | cut -d' ' -f1) got=$(sha256sum /tmp/in | cut -d' ' -f1) END"
            else
              echo "JVHOST-VSOCK connect failed"
            fi
            /bin/vsockc listen 5000 %d && echo "JVHOST-VSOCK echoed"
            poweroff -f
            """.formatted(PAYLOAD, PAYLOAD, ECHO), List.of(tree), 6, "virtio_pci", "vmw_vsock_virtio_transport");

        final Path socket = dir.resolve("vsock.sock");
        final Path uds = dir.resolve("vm.vsock");
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_1234")));
            final CompletableFuture<byte[]> hostSide = CompletableFuture.supplyAsync(() ->
            {
                try (SocketChannel c = listener.accept())
                {
                    final Thread writer = Thread.ofPlatform().start(() ->
                    {
                        try
                        {
                            c.write(ByteBuffer.wrap(toGuest));
                        }
                        catch (final IOException e)
                        {
                            throw new UncheckedIOException(e);
                        }
                    });
                    final byte[] got = Channels.newInputStream(c).readNBytes(PAYLOAD);
                    writer.join();
                    return got;
                }
                catch (final IOException | InterruptedException e)
                {
                    throw new IllegalStateException(e);
                }
            }, r -> Thread.ofPlatform().name("host-program").start(r));

            try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "vsock", "--guest-cid", "3",
                "--socket", socket.toString(), "--uds-path", uds.toString());
                QemuVm vm = QemuVm.builder(dir).environment(env).initrd(initrd)
                    .vhostUserDevice("vhost-user-vsock-pci", socket, null).start())
            {
                assertThat(vm.awaitSerial(Pattern.compile("JVHOST-VSOCK cid=.* END"), Duration.ofSeconds(90)))
                    .as("the guest's CID from the config space").contains("cid=3 ");
                final String result = vm.awaitSerial(Pattern.compile("JVHOST-VSOCK (sent=.* END|connect failed)"),
                    Duration.ofSeconds(120));
                final byte[] fromGuest = hostSide.get(30, TimeUnit.SECONDS);
                assertThat(result).as("host to guest, exact (back-end log:\n%s)", backend.log())
                    .contains("got=" + sha256(toGuest) + " ");
                assertThat(result).as("guest to host, exact").contains("sent=" + sha256(fromGuest) + " ");
                assertThat(fromGuest).hasSize(PAYLOAD);

                vm.awaitSerial(Pattern.compile("listening"), Duration.ofSeconds(30));
                try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(uds)))
                {
                    client.write(ByteBuffer.wrap("CONNECT 5000\n".getBytes(StandardCharsets.US_ASCII)));
                    final InputStream in = Channels.newInputStream(client);
                    final StringBuilder line = new StringBuilder();
                    for (int b; (b = in.read()) != '\n';)
                    {
                        assertThat(b).as("OK line, so far: %s", line).isNotNegative();
                        line.append((char)b);
                    }
                    assertThat(line.toString()).matches("OK \\d+");
                    final Thread writer = Thread.ofPlatform().start(() ->
                    {
                        try
                        {
                            client.write(ByteBuffer.wrap(echo));
                        }
                        catch (final IOException e)
                        {
                            throw new UncheckedIOException(e);
                        }
                    });
                    assertThat(in.readNBytes(ECHO)).as("echoed by the guest, exact").isEqualTo(echo);
                    writer.join();
                }
                vm.awaitSerial(Pattern.compile("JVHOST-VSOCK echoed"), Duration.ofSeconds(30));
                assertThat(vm.awaitExit(Duration.ofSeconds(30))).isZero();
                assertThat(backend.log()).doesNotContain("ERROR", "bad so far");
            }
        }
    }
}
