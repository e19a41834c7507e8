package io.jvhost.device.vsock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.vsock.GuestVsockDriver.U16;
import static io.jvhost.device.vsock.GuestVsockDriver.U32;
import static io.jvhost.device.vsock.GuestVsockDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VsockDevice} behind the real vhost-user back-end, driven by the in-process front-end as QEMU's
 * vhost-user-vsock-pci and Linux's virtio transport drive it, with a Unix socket program on the host side.
 */
@Timeout(120)
class VsockFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int QUEUE = GuestVsockDriver.QUEUE;
    private static final int GUEST_PORT = 50000;
    private static final int HOST_PORT = 1234;
    private static final int GUEST_BUF_ALLOC = 256 * 1024;

    @TempDir
    Path dir;
    private Path uds;
    private UdsHost host;
    private VsockDevice device;
    private ServedDevice served;

    @BeforeEach
    void setUp() throws Exception
    {
        uds = dir.resolve("vm.vsock");
        host = UdsHost.listen("vsock0", uds, VsockDevice.MAX_CONNECTIONS);
        device = new VsockDevice("vsock0", 3, VsockDevice.DEFAULT_TX_BUFFER_SIZE, VsockDevice.DEFAULT_QUEUE_SIZE,
            host);
        served = ServedDevice.serve("vsock0", device, dir.resolve("vsock.sock"));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.close();
        device.close();
    }

    private GuestVsockDriver driver(final GuestRam ram, final VirtioSession session) throws Exception
    {
        return new GuestVsockDriver(ram, session, 3, 2, GUEST_PORT, HOST_PORT, GUEST_BUF_ALLOC, WAIT);
    }

    @Test
    void aMebibyteCrossesExactlyBothWaysBetweenTheGuestAndAUnixSocketProgram() throws Exception
    {
        final byte[] toGuest = new byte[1 << 20];
        final byte[] toHost = new byte[1 << 20];
        new Random(31).nextBytes(toGuest);
        new Random(32).nextBytes(toHost);
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            served.drive(64L << 20, 1, b -> b.queues(3, QUEUE), (ram, _, session) ->
            {
                listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + HOST_PORT)));
                session.start();
                final GuestVsockDriver driver = driver(ram, session);
                // The host program: its own threads for each direction (the common pool may have one thread only).
                final CompletableFuture<byte[]> hostSide = new CompletableFuture<>();
                Thread.ofPlatform().name("host-program").start(() ->
                {
                    try (SocketChannel c = listener.accept())
                    {
                        final Thread writer = Thread.ofPlatform().name("host-writer").start(() ->
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
                        final ByteBuffer got = ByteBuffer.allocate(toHost.length);
                        while (got.hasRemaining() && c.read(got) >= 0)
                        {
                            // Until all of it.
                        }
                        writer.join();
                        hostSide.complete(got.array());
                    }
                    catch (final IOException | InterruptedException | RuntimeException e)
                    {
                        hostSide.completeExceptionally(e);
                    }
                });
                driver.send(VsockHeader.OP_REQUEST, 0, null, 0, 0);
                final byte[] gotByGuest = new byte[toGuest.length];
                int received = 0;
                int reportedFwd = 0;
                int sent = 0;
                int peerBufAlloc = 0;
                int peerFwd = 0;
                boolean connected = false;
                final Random sizes = new Random(33);
                long idleRounds = 0;
                while (received < toGuest.length || sent < toHost.length)
                {
                    boolean progress = false;
                    // Nothing happened last round: wait (bounded) for the device instead of spinning.
                    final int used = idleRounds > 0 ? driver.rx().awaitUsed(Duration.ofMillis(50)) : driver.rx().pollUsed();
                    final long[] done = new long[used];
                    for (int i = 0; i < used; i++)
                    {
                        final long gpa = driver.rxBuffers[driver.rx().usedHead(i)];
                        done[i] = gpa;
                        final MemorySegment h = MemorySegment.ofArray(ram.read(gpa, 44));
                        final int op = h.get(U16, 30);
                        final int len = h.get(U32, 24);
                        assertThat(h.get(U32, 16)).isEqualTo(HOST_PORT);
                        assertThat(h.get(U32, 20)).isEqualTo(GUEST_PORT);
                        peerBufAlloc = h.get(U32, 36);
                        peerFwd = h.get(U32, 40);
                        if (op == VsockHeader.OP_RESPONSE)
                        {
                            connected = true;
                        }
                        else if (op == VsockHeader.OP_RW)
                        {
                            assertThat(received + len - reportedFwd).as("within our buf_alloc")
                                .isLessThanOrEqualTo(GUEST_BUF_ALLOC);
                            System.arraycopy(ram.read(gpa + 44, len), 0, gotByGuest, received, len);
                            received += len;
                        }
                        else
                        {
                            assertThat(op).as("op").isIn(VsockHeader.OP_CREDIT_UPDATE, VsockHeader.OP_CREDIT_REQUEST);
                        }
                        progress = true;
                    }
                    for (final long gpa : done)
                    {
                        driver.post(gpa);
                    }
                    if (used > 0)
                    {
                        driver.rx().publishAndKick();
                    }
                    if (connected && received - reportedFwd >= GUEST_BUF_ALLOC / 2
                        || connected && received == toGuest.length && reportedFwd != received)
                    {
                        // The application read it all: tell the device (as Linux does when its buffer runs low).
                        reportedFwd = received;
                        driver.send(VsockHeader.OP_CREDIT_UPDATE, 0, null, 0, reportedFwd);
                        progress = true;
                    }
                    final int credit = peerBufAlloc - (sent - peerFwd);
                    if (connected && sent < toHost.length && credit > 0)
                    {
                        final int n = Math.min(Math.min(credit, 1 + sizes.nextInt(65536)), toHost.length - sent);
                        driver.send(VsockHeader.OP_RW, n, toHost, sent, reportedFwd);
                        sent += n;
                        progress = true;
                    }
                    if (!progress)
                    {
                        assertThat(idleRounds++).as("rounds without progress (received %d, sent %d, credit %d): %s",
                            received, sent, credit, device.describeConnections())
                            .isLessThan(400);
                    }
                    else
                    {
                        idleRounds = 0;
                    }
                }
                assertThat(gotByGuest).as("host to guest, exact").isEqualTo(toGuest);
                assertThat(hostSide.get()).as("guest to host, exact").isEqualTo(toHost);
                assertThat(device.bytesToGuest()).isEqualTo(toGuest.length);
                assertThat(device.bytesFromGuest()).isEqualTo(toHost.length);
            });
        }
    }

    @Test
    void malformedConfigReadsAndPacketsAreRefusedAndTheNextFrontEndIsServed() throws Exception
    {
        served.drive(32L << 20, 1, b -> b.queues(3, QUEUE), (ram, fe, session) ->
        {
            session.init();
            assertThatThrownBy(() -> fe.getConfig(4, 8)).isInstanceOf(FrontendException.class);
            assertThatThrownBy(() -> fe.getConfig(8, 1)).isInstanceOf(FrontendException.class);
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, 8));
            assertThat(config.get(U64, 0)).as("guest_cid, after the refusals").isEqualTo(3L);
            session.start();
            final GuestVsockDriver driver = driver(ram, session);
            // A 10-byte tx buffer and a packet claiming more payload than it carries.
            final long gpa = driver.txPool;
            driver.tx().add(new long[] {gpa}, new int[] {10}, 1, 0);
            driver.tx().publishAndKick();
            assertThat(driver.tx().awaitUsed(WAIT)).isEqualTo(1);
            driver.send(VsockHeader.OP_RW, 0, null, 0, 0);
            assertThat(driver.rx().awaitUsed(WAIT)).as("RST for data on no connection").isEqualTo(1);
            final MemorySegment h = MemorySegment.ofArray(ram.read(driver.rxBuffers[driver.rx().usedHead(0)], 44));
            assertThat((int)h.get(U16, 30)).isEqualTo(VsockHeader.OP_RST);
            assertThat(device.badPackets()).isEqualTo(1);
        });
        // QEMU restarted: the same process serves the next front-end; the host side is still listening.
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            served.drive(32L << 20, 1, b -> b.queues(3, QUEUE), (ram, _, session) ->
            {
                listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + HOST_PORT)));
                session.start();
                final GuestVsockDriver driver = driver(ram, session);
                driver.send(VsockHeader.OP_REQUEST, 0, null, 0, 0);
                assertThat(driver.rx().awaitUsed(WAIT)).isEqualTo(1);
                final MemorySegment h = MemorySegment.ofArray(ram.read(driver.rxBuffers[driver.rx().usedHead(0)], 44));
                assertThat((int)h.get(U16, 30)).isEqualTo(VsockHeader.OP_RESPONSE);
                try (SocketChannel c = listener.accept())
                {
                    driver.send(VsockHeader.OP_RW, 5, "again".getBytes(), 0, 0);
                    final ByteBuffer b = ByteBuffer.allocate(5);
                    while (b.hasRemaining() && c.read(b) >= 0)
                    {
                        // Until all five.
                    }
                    assertThat(new String(b.array())).isEqualTo("again");
                }
                assertThat(device.connections()).isEqualTo(1);
            });
        }
    }
}
