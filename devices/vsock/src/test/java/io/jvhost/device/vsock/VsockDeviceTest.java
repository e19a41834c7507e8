package io.jvhost.device.vsock;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.logging.Level;

import io.jvhost.device.LogThrottle;
import io.jvhost.device.vsock.MockGuest.Packet;
import io.jvhost.os.LibC;
import io.jvhost.os.LogRecorder;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VsockDevice} on mock rings ({@link MockGuest}) against real Unix sockets on the host side.
 */
@Timeout(20)
class VsockDeviceTest
{
    private static final int GUEST_PORT = 40000;
    private static final int HOST_PORT = 1234;
    private static final int TX_BUFFER = 64 * 1024;

    @TempDir
    Path dir;
    private Path uds;
    private UdsHost host;
    private VsockDevice device;
    private MockGuest guest;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception
    {
        uds = dir.resolve("vm.vsock");
        host = UdsHost.listen("vsock0", uds, VsockDevice.MAX_CONNECTIONS);
        device = new VsockDevice("vsock0", 3, TX_BUFFER, VsockDevice.DEFAULT_QUEUE_SIZE, host);
        guest = new MockGuest(device);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (final AutoCloseable c : closeables)
        {
            c.close();
        }
        device.close();
        guest.close();
    }

    private ServerSocketChannel hostListener(final int port) throws IOException
    {
        final ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + port)));
        closeables.add(s);
        return s;
    }

    private SocketChannel accept(final ServerSocketChannel s) throws IOException
    {
        final SocketChannel c = s.accept();
        c.configureBlocking(false);
        closeables.add(c);
        return c;
    }

    /** Guest connects to HOST_PORT; returns the host's end. */
    private SocketChannel guestConnects(final ServerSocketChannel listener, final int guestBufAlloc) throws IOException
    {
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_REQUEST, guestBufAlloc, 0);
        final List<Packet> rx = guest.receive();
        assertThat(rx).hasSize(1);
        final Packet p = rx.getFirst();
        assertThat(p.op()).isEqualTo(VsockHeader.OP_RESPONSE);
        assertThat(p.srcCid()).isEqualTo(2);
        assertThat(p.dstCid()).isEqualTo(3);
        assertThat(p.srcPort()).isEqualTo(HOST_PORT);
        assertThat(p.dstPort()).isEqualTo(GUEST_PORT);
        assertThat(p.bufAlloc()).as("our --tx-buffer-size as buf_alloc").isEqualTo(TX_BUFFER);
        return accept(listener);
    }

    private static byte[] readAvailable(final SocketChannel c, final int max) throws IOException
    {
        final ByteBuffer b = ByteBuffer.allocate(max);
        final int n = c.read(b);
        return n <= 0 ? new byte[0] : Arrays.copyOf(b.array(), n);
    }

    /** @return true at end of stream, or when the peer closed with our bytes unread (reset). */
    private static boolean closedByPeer(final SocketChannel c) throws IOException
    {
        try
        {
            return c.read(ByteBuffer.allocate(10)) == -1;
        }
        catch (final java.net.SocketException e)
        {
            return e.getMessage().contains("reset");
        }
    }

    @Test
    void offersTheQueuesFeaturesAndGuestCidConfigQemuExpects()
    {
        assertThat(device.deviceType()).isEqualTo(19);
        assertThat(device.queueCount()).isEqualTo(3);
        assertThat(device.maxQueueSize()).isEqualTo(1024);
        assertThat(device.features() & 1L << 1).as("no SEQPACKET").isZero();
        assertThat(VirtioFeatures.has(device.features(), VirtioFeatures.VERSION_1)).isTrue();
        assertThat(device.configSize()).isEqualTo(8);
        final MemorySegment config = MemorySegment.ofArray(new byte[8]);
        device.readConfig(0, config);
        assertThat(config.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(3L);
        assertThatThrownBy(() -> device.readConfig(4, MemorySegment.ofArray(new byte[8])))
            .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("offset 4");
        assertThatThrownBy(() -> new VsockDevice("x", 2, 1, 1024, host)).hasMessageContaining("got 2");
    }

    @Test
    void aGuestConnectingInALoopToAPortWithoutAListenerIsLoggedByTheThrottle()
    {
        final int attempts = LogThrottle.FIRST + 20;
        try (LogRecorder log = LogRecorder.of(VsockDevice.class))
        {
            for (int i = 0; i < attempts; i++)
            {
                guest.send(GUEST_PORT + i, 9999, VsockHeader.OP_REQUEST, 4096, 0);
                assertThat(guest.receive()).extracting(Packet::op).as("attempt %d", i)
                    .containsExactly(VsockHeader.OP_RST);
            }
            final List<LogRecorder.Entry> refused = log.matching(Level.INFO, "to host port 9999 refused");
            assertThat(refused).as("%d refused connections", attempts).hasSize(LogThrottle.FIRST);
            assertThat(refused.getLast().message()).endsWith("(" + LogThrottle.FIRST + " refused so far)");
        }
    }

    @Test
    void guestConnectionToAPortWithoutAHostListenerIsReset()
    {
        guest.send(GUEST_PORT, 9999, VsockHeader.OP_REQUEST, 4096, 0);
        final List<Packet> rx = guest.receive();
        assertThat(rx).hasSize(1);
        assertThat(rx.getFirst().op()).isEqualTo(VsockHeader.OP_RST);
        assertThat(rx.getFirst().srcPort()).isEqualTo(9999);
        assertThat(rx.getFirst().dstPort()).isEqualTo(GUEST_PORT);
        assertThat(device.connections()).isZero();
    }

    @Test
    void guestBytesReachASlowHostReaderExactlyWithinTheCreditWeAdvertise() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 1 << 20);
        final byte[] sent = new byte[256 * 1024];
        new Random(1).nextBytes(sent);
        final byte[] got = new byte[sent.length];
        int offered = 0;
        int received = 0;
        int peerFwd = 0;
        int creditUpdates = 0;
        final Random r = new Random(2);
        for (int round = 0; received < sent.length; round++)
        {
            assertThat(round).as("rounds").isLessThan(100_000);
            final int credit = TX_BUFFER - (offered - peerFwd);
            assertThat(credit).isBetween(0, TX_BUFFER);
            final int n = Math.min(Math.min(credit, 1 + r.nextInt(6000)), sent.length - offered);
            if (n > 0)
            {
                guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 1 << 20, 0,
                    Arrays.copyOfRange(sent, offered, offered + n));
                offered += n;
            }
            // A slow reader: a little at a time, sometimes nothing.
            final byte[] chunk = readAvailable(h, r.nextInt(3) == 0 ? 1 : 1 + r.nextInt(9000));
            System.arraycopy(chunk, 0, got, received, chunk.length);
            received += chunk.length;
            for (final Packet p : guest.receive())
            {
                assertThat(p.op()).as(p.toString()).isEqualTo(VsockHeader.OP_CREDIT_UPDATE);
                assertThat(p.fwdCnt() - peerFwd).as("fwd_cnt only grows").isNotNegative();
                peerFwd = p.fwdCnt();
                creditUpdates++;
            }
        }
        assertThat(got).isEqualTo(sent);
        assertThat(device.bytesFromGuest()).isEqualTo(sent.length);
        assertThat(creditUpdates).as("credit updates").isPositive();
        assertThat(device.connections()).isEqualTo(1);
    }

    /**
     * The guest sends {@code total} bytes in packets of {@code packet} as its credit allows (like Linux: never beyond
     * it), the host reads everything after every packet; checks the bytes and that the guest never ran short of
     * credit, and that the host reading never left an event for the worker.
     *
     * @return the CREDIT_UPDATEs the guest heard.
     */
    private int guestSendsToAReaderThatKeepsUp(final int packet, final int total) throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 1 << 20);
        assertThat(guest.receive()).isEmpty();
        final byte[] sent = new byte[total];
        new Random(packet).nextBytes(sent);
        final ByteBuffer got = ByteBuffer.allocate(total);
        int offered = 0;
        int peerFwd = 0;
        int creditUpdates = 0;
        while (offered < total)
        {
            final int credit = TX_BUFFER - (offered - peerFwd);
            final int n = Math.min(packet, total - offered);
            assertThat(credit).as("the guest's credit before sending at " + offered).isGreaterThanOrEqualTo(n);
            guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 1 << 20, 0,
                Arrays.copyOfRange(sent, offered, offered + n));
            offered += n;
            for (int reads = 0; got.position() < offered; reads++)
            {
                assertThat(reads).as("the socket holds what was sent").isLessThan(1000);
                h.read(got);
            }
            assertThat(hostSocketsHaveEvents()).as("the host's reads left an event for the worker").isFalse();
            for (final Packet p : guest.receive())
            {
                assertThat(p.op()).as(p.toString()).isEqualTo(VsockHeader.OP_CREDIT_UPDATE);
                peerFwd = p.fwdCnt();
                creditUpdates++;
            }
        }
        assertThat(got.array()).isEqualTo(sent);
        assertThat(device.bytesFromGuest()).isEqualTo(total);
        return creditUpdates;
    }

    /** @return true when the host side's epoll has an event, i.e. would wake the worker. */
    private boolean hostSocketsHaveEvents()
    {
        try (Arena a = Arena.ofConfined())
        {
            final MemorySegment pollfd = a.allocate(8, 4);
            pollfd.set(ValueLayout.JAVA_INT, 0, host.pollFd());
            pollfd.set(ValueLayout.JAVA_SHORT, 4, LibC.POLLIN);
            return LibC.pollNoErrno(pollfd.address(), 1, 0) == 1;
        }
    }

    @Test
    void guestBytesToAHostReaderThatKeepsUpAreSentFromGuestMemoryWithoutACopyOrAWakeUpPerRead() throws IOException
    {
        final int updates = guestSendsToAReaderThatKeepsUp(16_000, 640_000);

        assertThat(device.bytesBufferedFromGuest()).as("bytes copied into the connection's buffer").isZero();
        assertThat(updates).as("credit updates for 40 packets").isBetween(1, 640_000 / (TX_BUFFER * 3 / 4) + 1);
    }

    @Test
    void smallGuestPacketsHearOneCreditUpdatePerThreeQuartersOfTheBufferNotOnePerPacket() throws IOException
    {
        final int updates = guestSendsToAReaderThatKeepsUp(1000, 640_000);

        assertThat(updates).as("credit updates for 640 packets of 1000 bytes")
            .isBetween(640_000 / TX_BUFFER, 640_000 / (TX_BUFFER * 3 / 4) + 1);
    }

    @Test
    void hostBytesReachTheGuestExactlyNeverBeyondItsCredit() throws IOException
    {
        final int guestBufAlloc = 20_000;
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), guestBufAlloc);
        final byte[] sent = new byte[256 * 1024];
        new Random(3).nextBytes(sent);
        final ByteBuffer toSend = ByteBuffer.wrap(sent);
        final byte[] got = new byte[sent.length];
        int received = 0;
        int consumed = 0;
        int creditRequests = 0;
        for (int round = 0; received < sent.length; round++)
        {
            assertThat(round).as("rounds").isLessThan(100_000);
            h.write(toSend);
            for (final Packet p : guest.receive())
            {
                if (p.op() == VsockHeader.OP_CREDIT_REQUEST)
                {
                    creditRequests++;
                    continue;
                }
                assertThat(p.op()).as(p.toString()).isEqualTo(VsockHeader.OP_RW);
                assertThat(p.len()).isEqualTo(p.payload().length).isLessThanOrEqualTo(MockGuest.RX_BUFFER);
                System.arraycopy(p.payload(), 0, got, received, p.len());
                received += p.len();
                assertThat(received - consumed).as("in flight beyond the guest's buf_alloc")
                    .isLessThanOrEqualTo(guestBufAlloc);
            }
            if (received - consumed == guestBufAlloc || round % 3 == 0)
            {
                // The guest's application read everything: tell the device.
                consumed = received;
                guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_CREDIT_UPDATE, guestBufAlloc, consumed);
            }
        }
        assertThat(got).isEqualTo(sent);
        assertThat(creditRequests).as("asked for credit when it ran out").isPositive();
        assertThat(device.bytesToGuest()).isEqualTo(sent.length);
    }

    @Test
    void aGuestSendingBeyondItsCreditIsResetAndItsHostSocketClosed() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        // Fill the host socket so nothing more is forwarded, then overrun the 64 KiB we granted.
        final byte[] chunk = new byte[8000];
        int offered = 0;
        boolean reset = false;
        for (int i = 0; i < 2000 && !reset; i++)
        {
            guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 4096, 0, chunk);
            offered += chunk.length;
            for (final Packet p : guest.receive())
            {
                reset |= p.op() == VsockHeader.OP_RST;
            }
        }
        assertThat(reset).as("reset after " + offered + " bytes").isTrue();
        assertThat(device.connections()).isZero();
        // The host end sees the data that fitted, then end of stream.
        final ByteBuffer b = ByteBuffer.allocate(1 << 20);
        h.configureBlocking(true);
        while (h.read(b) >= 0)
        {
            b.clear();
        }
    }

    @Test
    void guestShutdownOfBothDirectionsFlushesEndsTheHostStreamAndResets() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 4096, 0, "last words".getBytes(StandardCharsets.UTF_8));
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_RCV
            | VsockHeader.SHUTDOWN_SEND, 4096, 0, new byte[0]);
        final List<Packet> rx = guest.receive();
        assertThat(rx).extracting(Packet::op).contains(VsockHeader.OP_RST);
        assertThat(device.connections()).isZero();
        h.configureBlocking(true);
        final ByteBuffer b = ByteBuffer.allocate(100);
        while (h.read(b) >= 0)
        {
            // Until end of stream.
        }
        assertThat(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8)).isEqualTo("last words");
    }

    @Test
    void guestShutdownOfSendingEndsOnlyTheHostsInput() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_SEND, 4096, 0, new byte[0]);
        assertThat(guest.receive()).isEmpty();
        assertThat(h.read(ByteBuffer.allocate(10))).as("end of stream").isEqualTo(-1);
        h.write(ByteBuffer.wrap("reply".getBytes(StandardCharsets.UTF_8)));
        final List<Packet> rx = guest.receive();
        assertThat(rx).hasSize(1);
        assertThat(new String(rx.getFirst().payload(), StandardCharsets.UTF_8)).isEqualTo("reply");
    }

    @Test
    void hostClosingIsShutdownToTheGuestAndTheGuestsResetFreesTheConnection() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        h.write(ByteBuffer.wrap("bye".getBytes(StandardCharsets.UTF_8)));
        h.close();
        final List<Packet> rx = guest.receive();
        assertThat(rx).extracting(Packet::op).containsExactly(VsockHeader.OP_RW, VsockHeader.OP_SHUTDOWN);
        assertThat(rx.get(1).flags()).isEqualTo(VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND);
        assertThat(device.connections()).as("until the guest resets").isEqualTo(1);
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RST, 4096, 3);
        assertThat(device.connections()).isZero();
        assertThat(guest.receive()).as("no answer to an RST").isEmpty();
    }

    @Test
    void guestResetClosesTheHostSocket() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RST, 4096, 0);
        assertThat(device.connections()).isZero();
        h.configureBlocking(true);
        assertThat(h.read(ByteBuffer.allocate(10))).isEqualTo(-1);
    }

    @Test
    void hostileHeadersAreRefusedWithResetOrDroppedAndServingGoesOn() throws IOException
    {
        final ServerSocketChannel listener = hostListener(HOST_PORT);
        final SocketChannel h = guestConnects(listener, 4096);
        // Another guest's CID: dropped without an answer.
        guest.sendRaw(7, 2, GUEST_PORT, HOST_PORT, 1, VsockHeader.OP_RW, 4, 0, 4096, 0, new byte[4], 48);
        assertThat(guest.receive()).isEmpty();
        assertThat(readAvailable(h, 10)).isEmpty();
        // A header alone, shorter than 44 bytes.
        guest.sendRaw(3, 2, GUEST_PORT, HOST_PORT, 1, VsockHeader.OP_RW, 0, 0, 4096, 0, new byte[0], 20);
        assertThat(guest.receive()).isEmpty();
        // To a CID that is not the host: RST.
        guest.sendRaw(3, 5, GUEST_PORT, 77, 1, VsockHeader.OP_REQUEST, 0, 0, 4096, 0, new byte[0], 44);
        assertThat(guest.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        // SEQPACKET (type 2): RST.
        guest.sendRaw(3, 2, GUEST_PORT + 1, HOST_PORT, 2, VsockHeader.OP_REQUEST, 0, 0, 4096, 0, new byte[0], 44);
        assertThat(guest.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        // Data on a connection nobody opened: RST.
        guest.send(GUEST_PORT + 2, HOST_PORT, VsockHeader.OP_RW, 0, 4096, 0, new byte[10]);
        assertThat(guest.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(device.connections()).as("the good one survived").isEqualTo(1);
        // len beyond the buffer on the open connection: it is reset, its host socket closed.
        guest.sendRaw(3, 2, GUEST_PORT, HOST_PORT, 1, VsockHeader.OP_RW, 100_000, 0, 4096, 0, new byte[10], 54);
        final List<Packet> rx = guest.receive();
        assertThat(rx).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(rx.getFirst().dstPort()).isEqualTo(GUEST_PORT);
        assertThat(device.connections()).isZero();
        h.configureBlocking(true);
        assertThat(h.read(ByteBuffer.allocate(10))).as("nothing forwarded, end of stream").isEqualTo(-1);
        // An unknown op on a fresh connection: reset too.
        final SocketChannel h2 = guestConnects(listener, 4096);
        guest.send(GUEST_PORT, HOST_PORT, 99, 4096, 0);
        assertThat(guest.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        h2.configureBlocking(true);
        assertThat(h2.read(ByteBuffer.allocate(10))).isEqualTo(-1);
        assertThat(device.badPackets()).isGreaterThanOrEqualTo(5);
        // And the device still serves.
        final SocketChannel h3 = guestConnects(listener, 4096);
        guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 4096, 0, "ok".getBytes(StandardCharsets.UTF_8));
        h3.configureBlocking(true);
        assertThat(h3.read(ByteBuffer.allocate(2))).isEqualTo(2);
    }

    @Test
    void hostClientConnectsToAGuestPortWithConnectAndGetsOkWithItsHostPort() throws IOException
    {
        final SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(uds));
        closeables.add(client);
        client.write(ByteBuffer.wrap("CONNECT 5000\n".getBytes(StandardCharsets.US_ASCII)));
        List<Packet> rx = guest.receive();
        assertThat(rx).hasSize(1);
        final Packet request = rx.getFirst();
        assertThat(request.op()).isEqualTo(VsockHeader.OP_REQUEST);
        assertThat(request.dstPort()).isEqualTo(5000);
        assertThat(request.bufAlloc()).isEqualTo(TX_BUFFER);
        final int hostPort = request.srcPort();
        guest.send(5000, hostPort, VsockHeader.OP_RESPONSE, 4096, 0);
        final ByteBuffer ok = ByteBuffer.allocate(64);
        client.read(ok);
        assertThat(new String(ok.array(), 0, ok.position(), StandardCharsets.US_ASCII)).isEqualTo("OK " + hostPort + "\n");
        client.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
        rx = guest.receive();
        assertThat(rx).hasSize(1);
        assertThat(new String(rx.getFirst().payload(), StandardCharsets.US_ASCII)).isEqualTo("ping");
        guest.send(5000, hostPort, VsockHeader.OP_RW, 0, 4096, 4, "pong".getBytes(StandardCharsets.US_ASCII));
        final ByteBuffer pong = ByteBuffer.allocate(4);
        client.read(pong);
        assertThat(new String(pong.array(), StandardCharsets.US_ASCII)).isEqualTo("pong");
    }

    @Test
    void aGuestRefusingAHostConnectClosesTheHostClient() throws IOException
    {
        final SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(uds));
        closeables.add(client);
        client.write(ByteBuffer.wrap("CONNECT 5001\n".getBytes(StandardCharsets.US_ASCII)));
        final Packet request = guest.receive().getFirst();
        guest.send(5001, request.srcPort(), VsockHeader.OP_RST, 0, 0);
        assertThat(device.connections()).isZero();
        assertThat(client.read(ByteBuffer.allocate(10))).isEqualTo(-1);
    }

    @Test
    void malformedConnectLinesAreRefusedAndClosed() throws IOException
    {
        for (final String line : new String[] {"HELLO\n", "CONNECT x\n", "CONNECT 99999999999\n",
            "CONNECT " + "1".repeat(40) + "\n", "CONNECT 4294967295\n"})
        {
            final SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(uds));
            closeables.add(client);
            client.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII)));
            assertThat(guest.receive()).as(line).isEmpty();
            assertThat(closedByPeer(client)).as(line).isTrue();
        }
        assertThat(UdsHost.parseConnect("CONNECT 1234\r".getBytes(StandardCharsets.US_ASCII), 13)).isEqualTo(1234);
    }

    @Test
    void aHostProgramThatNeverReadsStallsOnlyItsOwnConnection() throws IOException
    {
        final ServerSocketChannel listener = hostListener(HOST_PORT);
        final SocketChannel stalled = guestConnects(listener, 1 << 20);
        guest.send(GUEST_PORT + 1, HOST_PORT, VsockHeader.OP_REQUEST, 1 << 20, 0);
        assertThat(guest.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RESPONSE);
        final SocketChannel reader = accept(listener);
        final byte[] chunk = new byte[4000];
        new Random(5).nextBytes(chunk);
        // The stalled connection: the guest sends while it has credit; its host program never reads, so the socket
        // fills, then the connection's buffer, then the guest's credit runs out.
        int stalledSent = 0;
        int stalledFwd = 0;
        for (int round = 0; TX_BUFFER - (stalledSent - stalledFwd) >= chunk.length; round++)
        {
            assertThat(round).as("rounds until the stalled connection's credit ran out").isLessThan(10_000);
            guest.send(GUEST_PORT, HOST_PORT, VsockHeader.OP_RW, 0, 1 << 20, 0, chunk);
            stalledSent += chunk.length;
            for (final Packet p : guest.receive())
            {
                assertThat(p.op()).as("within credit: " + p).isNotEqualTo(VsockHeader.OP_RST);
                stalledFwd = p.fwdCnt();
            }
        }
        assertThat(device.bytesBufferedFromGuest()).as("bytes that wait in the stalled connection's buffer")
            .isPositive();
        // The other connection still moves 256 KiB, exact.
        final ByteBuffer got = ByteBuffer.allocate(256 * 1024);
        int sent = 0;
        int peerFwd = 0;
        final byte[] all = new byte[got.capacity()];
        new Random(6).nextBytes(all);
        for (int round = 0; got.hasRemaining(); round++)
        {
            assertThat(round).as("rounds").isLessThan(10_000);
            final int n = Math.min(Math.min(4000, TX_BUFFER - (sent - peerFwd)), all.length - sent);
            if (n > 0)
            {
                guest.send(GUEST_PORT + 1, HOST_PORT, VsockHeader.OP_RW, 0, 1 << 20, 0,
                    Arrays.copyOfRange(all, sent, sent + n));
                sent += n;
            }
            reader.read(got);
            for (final Packet p : guest.receive())
            {
                if (p.dstPort() == GUEST_PORT + 1)
                {
                    peerFwd = p.fwdCnt();
                }
            }
        }
        assertThat(got.array()).isEqualTo(all);
        assertThat(device.connections()).isEqualTo(2);
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("guest port " + GUEST_PORT
            + ": .*?buffered (\\d+),").matcher(device.describeConnections());
        assertThat(m.find()).isTrue();
        assertThat(Long.parseLong(m.group(1))).as("the stalled connection holds at most its credit")
            .isLessThanOrEqualTo(TX_BUFFER);
        assertThat(stalled.isOpen()).isTrue();
    }

    @Test
    void manyConnectionsClosedFromEitherSideLeaveNoDescriptorsOrEntries() throws IOException
    {
        final ServerSocketChannel listener = hostListener(HOST_PORT);
        final long fdsBefore = openDescriptors();
        final List<SocketChannel> hostEnds = new ArrayList<>();
        for (int i = 0; i < 50; i++)
        {
            guest.send(GUEST_PORT + i, HOST_PORT, VsockHeader.OP_REQUEST, 4096, 0);
            hostEnds.add(listener.accept());
        }
        assertThat(guest.receive(64)).hasSize(50);
        assertThat(device.connections()).isEqualTo(50);
        for (int i = 0; i < 50; i++)
        {
            if (i % 2 == 0)
            {
                guest.send(GUEST_PORT + i, HOST_PORT, VsockHeader.OP_RST, 4096, 0);
            }
            else
            {
                hostEnds.get(i).close();
            }
        }
        // The host side's closes are SHUTDOWNs to the guest, which answers with RST.
        for (final Packet p : guest.receive(64))
        {
            assertThat(p.op()).isEqualTo(VsockHeader.OP_SHUTDOWN);
            guest.send(p.dstPort(), HOST_PORT, VsockHeader.OP_RST, 4096, 0);
        }
        assertThat(device.connections()).isZero();
        for (final SocketChannel c : hostEnds)
        {
            c.close();
        }
        assertThat(openDescriptors()).as("descriptors after 50 connections").isEqualTo(fdsBefore);
    }

    private static long openDescriptors() throws IOException
    {
        try (var s = Files.list(Path.of("/proc/self/fd")))
        {
            return s.count();
        }
    }

    @Test
    void steadyStateTrafficBothWaysAllocatesNothing() throws IOException
    {
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 1 << 30);
        final MemorySegment ram = guest.ram;
        final long txGpa = 0x3000000;
        final long rxGpa = 0x3100000;
        ram.set(ValueLayout.JAVA_LONG_UNALIGNED, txGpa, 3);
        ram.set(ValueLayout.JAVA_LONG_UNALIGNED, txGpa + 8, 2);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, txGpa + 16, GUEST_PORT);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, txGpa + 20, HOST_PORT);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, txGpa + 24, 512);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, txGpa + 28, (short)1);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, txGpa + 30, (short)VsockHeader.OP_RW);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, txGpa + 36, 1 << 30);
        final long[] tx = {txGpa};
        final int[] txLength = {44 + 512};
        final long[] rx = {rxGpa};
        final int[] rxLength = {44 + 4096};
        final ByteBuffer fromGuest = ByteBuffer.allocateDirect(4096);
        final ByteBuffer toGuest = ByteBuffer.allocateDirect(512);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        long rxPosted = 0;
        long best = Long.MAX_VALUE;
        long delivered = 0;
        for (int round = 0; round < 10 && best > 0; round++)
        {
            // Only the device's work is counted: the host program's NIO calls are not the back-end's.
            long allocated = 0;
            for (int i = 0; i < 2000; i++)
            {
                guest.driver[1].add(tx, txLength, 1, 0);
                guest.driver[1].publish();
                long before = threads.getCurrentThreadAllocatedBytes();
                guest.queue[1].serve(device);
                allocated += threads.getCurrentThreadAllocatedBytes() - before;
                guest.driver[1].pollUsed();
                fromGuest.clear();
                h.read(fromGuest);
                toGuest.clear();
                h.write(toGuest);
                while (rxPosted < 4)
                {
                    guest.driver[0].add(rx, rxLength, 0, 1);
                    rxPosted++;
                }
                guest.driver[0].publish();
                before = threads.getCurrentThreadAllocatedBytes();
                device.hostReady();
                guest.queue[0].serve(device);
                allocated += threads.getCurrentThreadAllocatedBytes() - before;
                long used;
                while ((used = guest.driver[0].pollUsed()) != -1)
                {
                    rxPosted--;
                    delivered += Math.max(0, (int)used - 44);
                }
            }
            best = Math.min(best, allocated);
        }
        assertThat(delivered).as("host bytes delivered").isPositive();
        assertThat(device.connections()).isEqualTo(1);
        assertThat(best).as("bytes allocated by 2000 rounds of 512 bytes each way").isZero();
    }

    @Test
    void aResetClosesEveryConnectionWhicheverSlotsTheyHold() throws IOException
    {
        final ServerSocketChannel listener = hostListener(HOST_PORT);
        final List<SocketChannel> hostEnds = new ArrayList<>();
        for (int i = 0; i < 6; i++)
        {
            guest.send(GUEST_PORT + i, HOST_PORT, VsockHeader.OP_REQUEST, 4096, 0);
            hostEnds.add(accept(listener));
        }
        assertThat(guest.receive(64)).hasSize(6);
        // The guest resets the middle four: the two left hold the first and the last slot, with free ones between.
        for (int i = 1; i < 5; i++)
        {
            guest.send(GUEST_PORT + i, HOST_PORT, VsockHeader.OP_RST, 4096, 0);
        }
        assertThat(device.connections()).isEqualTo(2);
        device.reset();
        assertThat(device.connections()).isZero();
        for (final int i : new int[] {0, 5})
        {
            final SocketChannel h = hostEnds.get(i);
            h.configureBlocking(true);
            assertThat(h.read(ByteBuffer.allocate(10))).as("host end of connection %d after the reset", i)
                .isEqualTo(-1);
        }
    }

    @Test
    void transportResetIsDeliveredOnceAfterStartAndAgainAfterAReset() throws IOException
    {
        assertThat(guest.event()).isEqualTo(VsockDevice.EVENT_TRANSPORT_RESET);
        assertThat(guest.event()).as("only once").isEqualTo(-1);
        final SocketChannel h = guestConnects(hostListener(HOST_PORT), 4096);
        device.reset();
        assertThat(device.connections()).isZero();
        h.configureBlocking(true);
        assertThat(h.read(ByteBuffer.allocate(10))).as("host socket closed by the reset").isEqualTo(-1);
        for (int q = 0; q < 3; q++)
        {
            device.queueStarted(q);
        }
        assertThat(guest.event()).as("the buffer posted before").isEqualTo(VsockDevice.EVENT_TRANSPORT_RESET);
        assertThat(device.transportResets()).isEqualTo(2);
        assertThat(Files.exists(uds)).isTrue();
    }
}
