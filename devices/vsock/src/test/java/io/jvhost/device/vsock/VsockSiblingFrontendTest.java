package io.jvhost.device.vsock;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.jvhost.vhostuser.frontend.Await;
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

/**
 * Two sibling {@link VsockDevice}s (CIDs 3 and 4, one group) each behind its own vhost-user back-end and worker, as
 * one {@code jvhost vsock} process serves two VMs, driven by two in-process front-ends: the connection request crosses
 * from one device's worker to the other's, and a mebibyte each way crosses at once with both guests honouring credit.
 */
@Timeout(120)
class VsockSiblingFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int QUEUE = GuestVsockDriver.QUEUE;
    private static final int PORT_A = 50000;
    private static final int PORT_B = 6000;
    private static final int BUF_ALLOC = 256 * 1024;
    private static final int TOTAL = 1 << 20;

    @TempDir
    Path dir;
    private final List<VsockDevice> devices = new ArrayList<>();
    private final List<ServedDevice> served = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception
    {
        final Siblings siblings = new Siblings();
        for (final long cid : new long[] {3, 4})
        {
            final UdsHost host = UdsHost.listen("vsock" + cid, dir.resolve("vm" + cid + ".vsock"),
                VsockDevice.MAX_CONNECTIONS);
            final VsockDevice device = new VsockDevice("vsock" + cid, cid, VsockDevice.DEFAULT_TX_BUFFER_SIZE,
                VsockDevice.DEFAULT_QUEUE_SIZE, host);
            siblings.add(device, List.of("default"));
            devices.add(device);
            served.add(ServedDevice.serve("vsock" + cid, device, dir.resolve(cid + ".sock")));
        }
    }

    @AfterEach
    void tearDown() throws Exception
    {
        served.forEach(ServedDevice::close);
        devices.forEach(VsockDevice::close);
    }

    /** One guest's vsock transport and its end of one stream: sends within credit, receives, returns credit. */
    private static final class Guest extends GuestVsockDriver
    {
        final byte[] toSend;
        final byte[] got = new byte[TOTAL];
        final Random sizes;
        int received;
        int reportedFwd;
        int sent;
        int peerBufAlloc;
        int peerFwd;
        boolean connected;
        int lastOp = -1;

        Guest(final GuestRam ram, final VirtioSession session, final long cid, final long peerCid, final int port,
            final int peerPort, final long seed) throws Exception
        {
            super(ram, session, cid, peerCid, port, peerPort, BUF_ALLOC, WAIT);
            toSend = new byte[TOTAL];
            new Random(seed).nextBytes(toSend);
            sizes = new Random(seed + 1);
        }

        /** Sends {@code len} bytes of {@link #toSend} from {@code offset}, reporting what the application read. */
        void send(final int op, final int len, final int offset) throws Exception
        {
            send(op, len, toSend, offset, reportedFwd);
        }

        /** @return packets the device delivered (waiting up to {@code wait} when there are none yet). */
        int receive(final Duration wait) throws Exception
        {
            final int used = wait.isZero() ? rx().pollUsed() : rx().awaitUsed(wait);
            final long[] done = new long[used];
            for (int i = 0; i < used; i++)
            {
                final long gpa = rxBuffers[rx().usedHead(i)];
                done[i] = gpa;
                final MemorySegment h = MemorySegment.ofArray(ram.read(gpa, 44));
                assertThat(h.get(U64, 0)).as("source CID").isEqualTo(peerCid);
                assertThat(h.get(U64, 8)).as("destination CID").isEqualTo(cid);
                assertThat(h.get(U32, 16)).isEqualTo(peerPort);
                assertThat(h.get(U32, 20)).isEqualTo(port);
                final int op = h.get(U16, 30);
                final int len = h.get(U32, 24);
                lastOp = op;
                peerBufAlloc = h.get(U32, 36);
                peerFwd = h.get(U32, 40);
                switch (op)
                {
                    case VsockHeader.OP_REQUEST, VsockHeader.OP_RESPONSE -> connected = true;
                    case VsockHeader.OP_RW ->
                    {
                        assertThat(received + len - reportedFwd).as("within our buf_alloc").isLessThanOrEqualTo(BUF_ALLOC);
                        System.arraycopy(ram.read(gpa + 44, len), 0, got, received, len);
                        received += len;
                    }
                    default -> assertThat(op).as("op").isIn(VsockHeader.OP_CREDIT_UPDATE,
                        VsockHeader.OP_CREDIT_REQUEST);
                }
            }
            for (final long gpa : done)
            {
                post(gpa);
            }
            if (used > 0)
            {
                rx().publishAndKick();
            }
            return used;
        }

        /** @return true when it did something. */
        boolean step() throws Exception
        {
            boolean progress = false;
            if (connected && (received - reportedFwd >= BUF_ALLOC / 2 || received == TOTAL && reportedFwd != received))
            {
                reportedFwd = received;
                send(VsockHeader.OP_CREDIT_UPDATE, 0, 0);
                progress = true;
            }
            final int credit = peerBufAlloc - (sent - peerFwd);
            if (connected && sent < TOTAL && credit > 0)
            {
                final int n = Math.min(Math.min(credit, 1 + sizes.nextInt(65536)), TOTAL - sent);
                send(VsockHeader.OP_RW, n, sent);
                sent += n;
                progress = true;
            }
            return progress;
        }
    }

    @Test
    void twoSiblingDevicesOnTheirOwnWorkersMoveAMebibyteEachWayAtOnce() throws Exception
    {
        served.get(0).drive(96L << 20, 1, b -> b.queues(3, QUEUE), (ramA, _, sessionA) ->
            served.get(1).drive(96L << 20, 1, b -> b.queues(3, QUEUE), (ramB, _, sessionB) ->
        {
            sessionA.start();
            sessionB.start();
            final Guest a = new Guest(ramA, sessionA, 3, 4, PORT_A, PORT_B, 51);
            final Guest b = new Guest(ramB, sessionB, 4, 3, PORT_B, PORT_A, 61);
            a.send(VsockHeader.OP_REQUEST, 0, 0);
            assertThat(b.receive(WAIT)).as("the request reached B through B's own worker").isEqualTo(1);
            assertThat(b.lastOp).isEqualTo(VsockHeader.OP_REQUEST);
            b.send(VsockHeader.OP_RESPONSE, 0, 0);
            assertThat(a.receive(WAIT)).isEqualTo(1);
            assertThat(a.lastOp).isEqualTo(VsockHeader.OP_RESPONSE);
            long idle = 0;
            while (a.received < TOTAL || b.received < TOTAL)
            {
                final Duration wait = idle > 0 ? Duration.ofMillis(25) : Duration.ZERO;
                final boolean progress = a.receive(wait) + b.receive(Duration.ZERO) > 0 | a.step() | b.step();
                idle = progress ? 0 : idle + 1;
                assertThat(idle).as("rounds without progress (A got %d, B got %d):\nA: %sB: %s", a.received,
                    b.received, devices.get(0).describeConnections(), devices.get(1).describeConnections())
                    .isLessThan(400);
            }
            assertThat(b.got).as("A to B, exact").isEqualTo(a.toSend);
            assertThat(a.got).as("B to A, exact").isEqualTo(b.toSend);
            assertThat(devices.get(0).siblingConnections()).isEqualTo(1);
        }));
        // Both front-ends left: each device resets and closes its end; nothing is left.
        assertThat(Await.until(() -> devices.get(0).connections() == 0 && devices.get(1).connections() == 0, WAIT))
            .as("connections after both front-ends left:\nA: %sB: %s", devices.get(0).describeConnections(),
                devices.get(1).describeConnections()).isTrue();
    }
}
