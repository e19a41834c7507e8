package io.jvhost.device.vsock;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import io.jvhost.device.vsock.MockGuest.Packet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Sibling VMs: three {@link VsockDevice}s of one process on mock rings ({@link MockGuest}), A (CID 3, group g) and
 * B (CID 4, groups g+h) sharing a group, C (CID 5, group other) alone. Each device's host events and rx queue are
 * served by hand, so every step is deterministic.
 */
@Timeout(30)
class VsockSiblingTest
{
    private static final int A_PORT = 40000;
    private static final int B_PORT = 5000;
    private static final int TX_BUFFER = 64 * 1024;

    @TempDir
    Path dir;
    private final List<VsockDevice> devices = new ArrayList<>();
    private final List<MockGuest> guests = new ArrayList<>();
    private MockGuest a;
    private MockGuest b;
    private MockGuest c;

    @BeforeEach
    void setUp() throws Exception
    {
        final Siblings siblings = new Siblings();
        a = guest(siblings, 3, List.of("g"));
        b = guest(siblings, 4, List.of("g", "h"));
        c = guest(siblings, 5, List.of("other"));
    }

    private MockGuest guest(final Siblings siblings, final long cid, final List<String> groups) throws Exception
    {
        final UdsHost host = UdsHost.listen("vsock" + cid, dir.resolve("vm" + cid + ".vsock"),
            VsockDevice.MAX_CONNECTIONS);
        final VsockDevice device = new VsockDevice("vsock" + cid, cid, TX_BUFFER, VsockDevice.DEFAULT_QUEUE_SIZE,
            host);
        siblings.add(device, groups);
        devices.add(device);
        final MockGuest g = new MockGuest(device);
        guests.add(g);
        return g;
    }

    @AfterEach
    void tearDown()
    {
        devices.forEach(VsockDevice::close);
        guests.forEach(MockGuest::close);
    }

    /** A connects to B's port; B's guest accepts. */
    private void connect(final int aPort, final int bPort, final int bufAlloc)
    {
        a.sendTo(4, aPort, bPort, VsockHeader.OP_REQUEST, 0, bufAlloc, 0, new byte[0]);
        assertThat(a.receive()).as("no answer before the sibling's guest accepts").isEmpty();
        final List<Packet> atB = b.receive();
        assertThat(atB).hasSize(1);
        final Packet request = atB.getFirst();
        assertThat(request.op()).isEqualTo(VsockHeader.OP_REQUEST);
        assertThat(request.srcCid()).as("B sees A's CID").isEqualTo(3);
        assertThat(request.srcPort()).isEqualTo(aPort);
        assertThat(request.dstCid()).isEqualTo(4);
        assertThat(request.dstPort()).isEqualTo(bPort);
        b.sendTo(3, bPort, aPort, VsockHeader.OP_RESPONSE, 0, bufAlloc, 0, new byte[0]);
        final List<Packet> atA = a.receive();
        assertThat(atA).hasSize(1);
        final Packet response = atA.getFirst();
        assertThat(response.op()).isEqualTo(VsockHeader.OP_RESPONSE);
        assertThat(response.srcCid()).as("A sees B's CID").isEqualTo(4);
        assertThat(response.srcPort()).isEqualTo(bPort);
        assertThat(response.dstPort()).isEqualTo(aPort);
    }

    /** One direction of one connection as a guest's socket sees it: credit from the device, bytes received. */
    private static final class End
    {
        final MockGuest guest;
        final long peerCid;
        final int port;
        final int peerPort;
        final int bufAlloc;
        int peerBufAlloc;
        int peerFwd;
        int sent;
        int received;
        int reportedFwd;
        final ByteArrayOutputStream got = new ByteArrayOutputStream();

        End(final MockGuest guest, final long peerCid, final int port, final int peerPort, final int bufAlloc)
        {
            this.guest = guest;
            this.peerCid = peerCid;
            this.port = port;
            this.peerPort = peerPort;
            this.bufAlloc = bufAlloc;
        }

        int credit()
        {
            return peerBufAlloc - (sent - peerFwd);
        }

        void send(final byte[] data, final int offset, final int n)
        {
            guest.sendTo(peerCid, port, peerPort, VsockHeader.OP_RW, 0, bufAlloc, reportedFwd,
                Arrays.copyOfRange(data, offset, offset + n));
            sent += n;
        }

        /** Takes what the device delivered; the application reads it all at once (consume) or not. */
        void take(final List<Packet> packets, final boolean consume)
        {
            for (final Packet p : packets)
            {
                assertThat(p.op()).as(p.toString()).isNotIn(VsockHeader.OP_RST, VsockHeader.OP_SHUTDOWN);
                if (p.dstPort() != port)
                {
                    continue;
                }
                peerBufAlloc = p.bufAlloc();
                peerFwd = p.fwdCnt();
                if (p.op() == VsockHeader.OP_RW)
                {
                    assertThat(received + p.len() - reportedFwd).as("within our buf_alloc").isLessThanOrEqualTo(bufAlloc);
                    got.writeBytes(p.payload());
                    received += p.len();
                }
            }
            if (consume && received - reportedFwd > 0)
            {
                reportedFwd = received;
                guest.sendTo(peerCid, port, peerPort, VsockHeader.OP_CREDIT_UPDATE, 0, bufAlloc, reportedFwd,
                    new byte[0]);
            }
        }
    }

    @Test
    void siblingsOfAGroupConnectByCidAndBytesCrossExactlyBothWays()
    {
        final int guestBufAlloc = 32 * 1024;
        connect(A_PORT, B_PORT, guestBufAlloc);
        final End atA = new End(a, 4, A_PORT, B_PORT, guestBufAlloc);
        final End atB = new End(b, 3, B_PORT, A_PORT, guestBufAlloc);
        atA.peerBufAlloc = TX_BUFFER;
        atB.peerBufAlloc = TX_BUFFER;
        final byte[] aToB = new byte[300_000];
        final byte[] bToA = new byte[300_000];
        new Random(41).nextBytes(aToB);
        new Random(42).nextBytes(bToA);
        final Random sizes = new Random(43);
        for (int round = 0; atB.received < aToB.length || atA.received < bToA.length; round++)
        {
            assertThat(round).as("rounds (A got %d, B got %d)", atA.received, atB.received).isLessThan(10_000);
            for (final End from : List.of(atA, atB))
            {
                final byte[] data = from == atA ? aToB : bToA;
                final int n = Math.min(Math.min(from.credit(), 1 + sizes.nextInt(9000)), data.length - from.sent);
                if (n > 0)
                {
                    from.send(data, from.sent, n);
                }
            }
            atB.take(b.receive(), true);
            atA.take(a.receive(), true);
        }
        assertThat(atB.got.toByteArray()).as("A to B, exact").isEqualTo(aToB);
        assertThat(atA.got.toByteArray()).as("B to A, exact").isEqualTo(bToA);
        assertThat(a.device.siblingConnections()).isEqualTo(1);
        assertThat(a.device.connections()).isEqualTo(1);
        assertThat(b.device.connections()).isEqualTo(1);

        // An orderly close from A: B hears SHUTDOWN, resets, and both sides are gone.
        a.sendTo(4, A_PORT, B_PORT, VsockHeader.OP_SHUTDOWN, VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND,
            guestBufAlloc, atA.reportedFwd, new byte[0]);
        final List<Packet> atAAfter = a.receive();
        assertThat(atAAfter).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(a.device.connections()).isZero();
        final List<Packet> atBAfter = b.receive();
        assertThat(atBAfter).extracting(Packet::op).containsExactly(VsockHeader.OP_SHUTDOWN);
        assertThat(atBAfter.getFirst().srcCid()).isEqualTo(3);
        b.sendTo(3, B_PORT, A_PORT, VsockHeader.OP_RST, 0, guestBufAlloc, 0, new byte[0]);
        assertThat(b.receive()).isEmpty();
        assertThat(b.device.connections()).isZero();
    }

    @Test
    void guestsOfDifferentGroupsOrUnknownCidsAreRefusedWithRst()
    {
        for (final long cid : new long[] {5, 9, 3})
        {
            a.sendTo(cid, A_PORT, B_PORT, VsockHeader.OP_REQUEST, 0, 4096, 0, new byte[0]);
            final List<Packet> rx = a.receive();
            assertThat(rx).as("CID " + cid).hasSize(1);
            assertThat(rx.getFirst().op()).isEqualTo(VsockHeader.OP_RST);
            assertThat(rx.getFirst().srcCid()).as("the RST comes from the CID asked for").isEqualTo(cid);
            assertThat(rx.getFirst().srcPort()).isEqualTo(B_PORT);
            assertThat(rx.getFirst().dstPort()).isEqualTo(A_PORT);
        }
        assertThat(c.receive()).as("C never hears of A").isEmpty();
        // And C cannot reach A or B either.
        c.sendTo(4, A_PORT, B_PORT, VsockHeader.OP_REQUEST, 0, 4096, 0, new byte[0]);
        assertThat(c.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(b.receive()).isEmpty();
        assertThat(a.device.connections() + b.device.connections() + c.device.connections()).isZero();
    }

    @Test
    void aSiblingGuestWithoutAListenerRefusesAndTheConnectingGuestGetsRst()
    {
        a.sendTo(4, A_PORT, B_PORT, VsockHeader.OP_REQUEST, 0, 4096, 0, new byte[0]);
        assertThat(b.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_REQUEST);
        b.sendTo(3, B_PORT, A_PORT, VsockHeader.OP_RST, 0, 4096, 0, new byte[0]);
        assertThat(b.device.connections()).isZero();
        final List<Packet> rx = a.receive();
        assertThat(rx).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(rx.getFirst().srcCid()).isEqualTo(4);
        assertThat(a.device.connections()).isZero();
        assertThat(a.device.siblingConnections()).isZero();
    }

    @Test
    void aSiblingThatVanishesEndsItsConnectionsOnTheOtherSide()
    {
        connect(A_PORT, B_PORT, 4096);
        connect(A_PORT + 1, B_PORT, 4096);
        // A request still waiting for B's guest when B goes.
        a.sendTo(4, A_PORT + 2, B_PORT, VsockHeader.OP_REQUEST, 0, 4096, 0, new byte[0]);
        assertThat(a.device.connections()).isEqualTo(3);
        // B's front-end goes away (QEMU quit): its device resets.
        b.device.reset();
        assertThat(b.device.connections()).isZero();
        final List<Packet> rx = a.receive();
        assertThat(rx).extracting(Packet::op).containsExactlyInAnyOrder(VsockHeader.OP_SHUTDOWN,
            VsockHeader.OP_SHUTDOWN, VsockHeader.OP_RST);
        for (final Packet p : rx)
        {
            if (p.op() == VsockHeader.OP_SHUTDOWN)
            {
                a.sendTo(4, p.dstPort(), B_PORT, VsockHeader.OP_RST, 0, 4096, 0, new byte[0]);
            }
        }
        assertThat(a.device.connections()).as("nothing left behind").isZero();
        // And a request to B now, with no driver running there, is refused at once.
        a.sendTo(4, A_PORT + 3, B_PORT, VsockHeader.OP_REQUEST, 0, 4096, 0, new byte[0]);
        assertThat(a.receive()).extracting(Packet::op).containsExactly(VsockHeader.OP_RST);
        assertThat(a.device.connections()).isZero();
    }

    @Test
    void aSlowSiblingReaderStallsOnlyItsOwnConnection()
    {
        final int guestBufAlloc = 16 * 1024;
        connect(A_PORT, B_PORT, guestBufAlloc);
        connect(A_PORT + 1, B_PORT + 1, guestBufAlloc);
        final End slowFrom = new End(a, 4, A_PORT, B_PORT, guestBufAlloc);
        final End fastFrom = new End(a, 4, A_PORT + 1, B_PORT + 1, guestBufAlloc);
        final End slowTo = new End(b, 3, B_PORT, A_PORT, guestBufAlloc);
        final End fastTo = new End(b, 3, B_PORT + 1, A_PORT + 1, guestBufAlloc);
        slowFrom.peerBufAlloc = TX_BUFFER;
        fastFrom.peerBufAlloc = TX_BUFFER;
        final byte[] data = new byte[1 << 20];
        new Random(44).nextBytes(data);
        // The slow connection: A sends as long as it has credit; B's application never reads.
        for (int round = 0; slowFrom.credit() > 0; round++)
        {
            assertThat(round).isLessThan(1000);
            slowFrom.send(data, slowFrom.sent, Math.min(slowFrom.credit(), 4096));
            final List<Packet> atB = b.receive();
            slowTo.take(atB, false);
            fastTo.take(atB, false);
            slowFrom.take(a.receive(), false);
        }
        final int stalledAt = slowFrom.sent;
        assertThat(slowTo.received).as("B's guest got exactly its buf_alloc").isEqualTo(guestBufAlloc);
        assertThat(stalledAt).as("bounded: B's buf_alloc, A's tx buffer and the socket pair's buffers")
            .isLessThan(guestBufAlloc + TX_BUFFER + 1024 * 1024);
        // Meanwhile the other connection moves a mebibyte.
        for (int round = 0; fastTo.received < data.length; round++)
        {
            assertThat(round).isLessThan(10_000);
            final int n = Math.min(Math.min(fastFrom.credit(), 8192), data.length - fastFrom.sent);
            if (n > 0)
            {
                fastFrom.send(data, fastFrom.sent, n);
            }
            final List<Packet> atB = b.receive();
            slowTo.take(atB, false);
            fastTo.take(atB, true);
            final List<Packet> atA = a.receive();
            slowFrom.take(atA, false);
            fastFrom.take(atA, false);
        }
        assertThat(fastTo.got.toByteArray()).isEqualTo(data);
        assertThat(slowFrom.credit()).as("the slow one is still stalled").isZero();
        assertThat(slowTo.received).isEqualTo(guestBufAlloc);
        assertThat(Arrays.copyOf(slowTo.got.toByteArray(), guestBufAlloc)).isEqualTo(Arrays.copyOf(data, guestBufAlloc));
    }
}
