package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Level;
import java.util.stream.Stream;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.jvhost.os.EventFd;
import io.jvhost.os.LogRecorder;
import io.jvhost.os.OpenFds;
import io.jvhost.vhostuser.backend.VhostUserBackend;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.Payloads;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.vhostuser.protocol.FrontendRequest.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A hostile front-end: malformed and out-of-range requests are refused with a failure reply (never a hang), the
 * connection goes on serving, and no descriptor leaks once it closes. Each test ends by closing the hostile
 * connection, checking the descriptor count is back to its baseline and that a fresh front-end is fully served.
 */
@Timeout(60)
class HostileFrontendTest
{
    private static final int NEED_REPLY = MessageHeader.VERSION | MessageHeader.NEED_REPLY;
    private static final long OFFERED = EchoDevice.FEATURES | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES);

    @TempDir
    Path dir;

    private EchoBackend backend;
    private OpenFds baseline;
    private final Arena arena = Arena.ofShared();

    @BeforeEach
    void startBackend() throws Exception
    {
        backend = EchoBackend.start(dir);
        // Warm up (class loading, lazily opened JDK files), then take the descriptor baseline.
        assertServesAFreshFrontend();
        baseline = settledSnapshot();
    }

    /**
     * After every test (its connection and resources closed): no descriptor leaked, and a fresh front-end is fully
     * served.
     */
    @AfterEach
    void backendIsCleanAndStillServes() throws Exception
    {
        try
        {
            OpenFds.awaitBaseline(baseline);
            assertServesAFreshFrontend();
            OpenFds.awaitBaseline(baseline);
            assertThat(backend.isRunning()).isTrue();
        }
        finally
        {
            backend.close();
            arena.close();
        }
    }

    private static OpenFds settledSnapshot() throws InterruptedException
    {
        OpenFds last = OpenFds.snapshot();
        for (int stable = 0; stable < 5; )
        {
            Thread.sleep(10);
            final OpenFds now = OpenFds.snapshot();
            stable = now.count() == last.count() ? stable + 1 : 0;
            last = now;
        }
        return last;
    }

    /**
     * A connection past SET_OWNER with REPLY_ACK (and everything else we support but the back-end channel).
     */
    private VhostUserFrontend negotiated() throws IOException
    {
        final VhostUserFrontend fe = backend.connect();
        fe.setReplyTimeout(Duration.ofSeconds(2));
        assertThat(fe.getFeatures()).isEqualTo(OFFERED);
        final long offered = fe.getProtocolFeatures();
        fe.setProtocolFeatures(offered & VirtioSession.SUPPORTED_PROTOCOL_FEATURES
            & ~ProtocolFeature.bit(ProtocolFeature.BACKEND_REQ));
        assertThat(fe.replyAck()).isTrue();
        fe.setOwner();
        return fe;
    }

    /**
     * Checks the hostile connection still answers correctly (the test then closes it; {@link #backendIsCleanAndStillServes}
     * checks the rest).
     */
    private static void assertStillAnswers(final VhostUserFrontend fe) throws Exception
    {
        assertThat(fe.brokenReason()).isNull();
        assertThat(fe.getFeatures()).isEqualTo(OFFERED);
        assertThat(fe.getQueueNum()).isEqualTo(EchoDevice.QUEUES);
    }

    private void assertServesAFreshFrontend() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 16).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 2, 99, true);
            session.start();
            traffic.run(20, Duration.ofSeconds(5));
            assertThat(session.stop()).containsExactly((int)traffic.submitted(0), (int)traffic.submitted(1));
            assertThat(fe.getConfig(0, 16)).startsWith(0, 1, 2, 3);
        }
    }

    private static void assertRefused(final int request, final ThrowingCallable call)
    {
        assertThatThrownBy(call).isInstanceOfSatisfying(FrontendException.class, e ->
        {
            assertThat(e.kind()).as(e.getMessage()).isEqualTo(FrontendException.Kind.REFUSED);
            assertThat(e.request()).isEqualTo(request);
            assertThat(e.code()).isNotZero();
            assertThat(e.getMessage()).contains(FrontendRequest.name(request));
        });
    }

    /**
     * The next message must be a failure reply to {@code request}: flags exactly 0x5 and a non-zero status (a u64,
     * or an empty payload).
     */
    private static void assertFailureReply(final VhostUserFrontend fe, final int request) throws FrontendException
    {
        final VhostUserFrontend.Reply reply = fe.receiveReply();
        assertThat(reply).as("a reply to " + FrontendRequest.name(request)).isNotNull();
        assertThat(reply.request()).isEqualTo(request);
        assertThat(reply.flags()).isEqualTo(MessageHeader.REPLY_FLAGS);
        assertThat(reply.fdCount()).isZero();
        assertThat(reply.size()).isIn(0, Payloads.U64_SIZE);
        if (reply.size() == Payloads.U64_SIZE)
        {
            assertThat(reply.u64(0)).as(reply.toString()).isNotZero();
        }
    }

    private MemorySegment payload(final int size)
    {
        return arena.allocate(Math.max(1, size), 8).asSlice(0, size);
    }

    // ----------------------------------------------------------------------------------------------------------------

    static Stream<Arguments> shortPayloads()
    {
        return Stream.of(
            Arguments.of(SET_FEATURES, new int[] {0, 7}),
            Arguments.of(SET_PROTOCOL_FEATURES, new int[] {0, 4}),
            Arguments.of(SET_MEM_TABLE, new int[] {0, 7, 8, 39}),
            Arguments.of(ADD_MEM_REG, new int[] {0, 39}),
            Arguments.of(REM_MEM_REG, new int[] {0, 39}),
            Arguments.of(SET_VRING_NUM, new int[] {0, 7}),
            Arguments.of(SET_VRING_ADDR, new int[] {0, 8, 39}),
            Arguments.of(SET_VRING_BASE, new int[] {0, 7}),
            Arguments.of(GET_VRING_BASE, new int[] {0, 7}),
            Arguments.of(SET_VRING_KICK, new int[] {0, 7}),
            Arguments.of(SET_VRING_CALL, new int[] {0, 7}),
            Arguments.of(SET_VRING_ERR, new int[] {0, 7}),
            Arguments.of(SET_VRING_ENABLE, new int[] {0, 7}),
            Arguments.of(GET_CONFIG, new int[] {0, 11, 12 + 15}),
            Arguments.of(SET_CONFIG, new int[] {0, 11, 12 + 3}),
            Arguments.of(SET_STATUS, new int[] {0, 7}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shortPayloads")
    void payloadTooShortForTheRequestIsRefusedAndItsDescriptorsClosed(final int request, final int[] sizes)
        throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(1 << 20, 1);
             EventFd eventFd = EventFd.create())
        {
            for (final int size : sizes)
            {
                final MemorySegment p = payload(size);
                if (request == SET_MEM_TABLE && size >= 4)
                {
                    p.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 1);
                }
                if ((request == GET_CONFIG || request == SET_CONFIG) && size >= 8)
                {
                    // Claims 16 (GET) or 4 (SET) bytes of data that are not there.
                    p.set(ValueLayout.JAVA_INT_UNALIGNED, 4, request == GET_CONFIG ? 16 : 4);
                }
                final int[] fds = switch (request)
                {
                    case SET_MEM_TABLE, ADD_MEM_REG -> new int[] {ram.fd()};
                    case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> new int[] {eventFd.fd()};
                    default -> new int[0];
                };
                fe.sendRaw(request, NEED_REPLY, p, fds);
                assertFailureReply(fe, request);
            }
            assertStillAnswers(fe);
        }
    }

    @Test
    void queueIndexOutOfRangeIsRefusedForEveryRingRequest() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(1 << 20, 1);
             EventFd eventFd = EventFd.create())
        {
            fe.setMemTable(ram);
            final long ring = ram.userAddrOf(ram.allocate(8192, 4096));
            assertRefused(SET_VRING_NUM, () -> fe.setVringNum(2, 64));
            assertRefused(SET_VRING_BASE, () -> fe.setVringBase(2, 0));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(2, ring, ring + 4096, ring + 2048));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(-1, ring, ring + 4096, ring + 2048));
            assertRefused(SET_VRING_KICK, () -> fe.setVringKick(200, eventFd));
            assertRefused(SET_VRING_CALL, () -> fe.setVringCall(255, eventFd));
            assertRefused(SET_VRING_ERR, () -> fe.setVringErr(2, eventFd));
            assertRefused(SET_VRING_ENABLE, () -> fe.setVringEnable(2, true));
            assertRefused(SET_VRING_ENABLE, () -> fe.setVringEnable(Integer.MIN_VALUE, false));
            // GET_VRING_BASE has a reply of its own: it must still come, and must not pass for queue 2's base.
            assertThatThrownBy(() -> fe.getVringBase(2)).isInstanceOf(FrontendException.class);
            // Reserved bits in a vring file value.
            final MemorySegment file = payload(8);
            file.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1_0000L);
            fe.sendRaw(SET_VRING_CALL, NEED_REPLY, file, new int[] {eventFd.fd()});
            assertFailureReply(fe, SET_VRING_CALL);
            assertStillAnswers(fe);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 100, 255, 512, 65536, 1 << 30, -1})
    void setVringNumThatIsNotAPowerOfTwoWithinTheDeviceMaximumIsRefused(final int num) throws Exception
    {
        try (VhostUserFrontend fe = negotiated())
        {
            assertRefused(SET_VRING_NUM, () -> fe.setVringNum(0, num));
            fe.setVringNum(0, EchoDevice.MAX_QUEUE_SIZE);
            fe.setVringNum(1, 1);
            assertStillAnswers(fe);
        }
    }

    @Test
    void memoryRegionLargerThanItsFileIsRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(1 << 20, 1))
        {
            final GuestRam.Region r = ram.region(0);
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(
                List.of(new GuestRam.Region(0, 2 * ram.size(), r.userAddr(), 0)), new int[] {ram.fd()}));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(
                List.of(new GuestRam.Region(0, r.size(), r.userAddr(), 4096)), new int[] {ram.fd()}));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(
                List.of(new GuestRam.Region(0, r.size(), r.userAddr(), Long.MAX_VALUE - 10)), new int[] {ram.fd()}));
            assertRefused(ADD_MEM_REG, () -> fe.addMemReg(new GuestRam.Region(0, ram.size() + 4096, r.userAddr(), 0),
                ram.fd()));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(
                List.of(new GuestRam.Region(0, 0, r.userAddr(), 0)), new int[] {ram.fd()}));
            fe.setMemTable(ram);
            assertStillAnswers(fe);
        }
    }

    @Test
    void overlappingMemoryRegionsAreRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(2 << 20, 2))
        {
            final GuestRam.Region a = ram.region(0);
            final GuestRam.Region b = ram.region(1);
            final int[] two = {ram.fd(), ram.fd()};
            // Overlapping guest-physical ranges.
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(List.of(a,
                new GuestRam.Region(a.guestPhysAddr() + 4096, b.size(), b.userAddr(), b.mmapOffset())), two));
            // Overlapping front-end address ranges.
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(List.of(a,
                new GuestRam.Region(b.guestPhysAddr(), b.size(), a.userAddr() + 4096, b.mmapOffset())), two));
            // ADD_MEM_REG over a region already there.
            fe.addMemReg(ram, 0);
            assertRefused(ADD_MEM_REG, () -> fe.addMemReg(a, ram.fd()));
            assertRefused(REM_MEM_REG, () -> fe.remMemReg(b));
            fe.addMemReg(ram, 1);
            fe.remMemReg(ram, 1);
            assertStillAnswers(fe);
        }
    }

    @Test
    void regionCountThatDoesNotMatchTheDescriptorCountIsRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(2 << 20, 2))
        {
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(ram.regions(), new int[] {ram.fd()}));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(List.of(ram.region(0)),
                new int[] {ram.fd(), ram.fd()}));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(List.of(ram.region(0)), new int[0]));
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(List.of(), new int[0]));
            assertRefused(ADD_MEM_REG, () -> fe.addMemReg(ram.region(0), -1));
            fe.setMemTable(ram);
            assertStillAnswers(fe);
        }
    }

    @Test
    void memoryTableWithNineRegionsIsRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(9L << 20, 9))
        {
            final int[] fds = new int[9];
            Arrays.fill(fds, ram.fd());
            assertRefused(SET_MEM_TABLE, () -> fe.setMemTable(ram.regions(), fds));
            assertThatThrownBy(() -> fe.setMemTable(ram)).isInstanceOf(IllegalArgumentException.class);
            // The same nine regions one by one are fine.
            for (int i = 0; i < 9; i++)
            {
                fe.addMemReg(ram, i);
            }
            assertStillAnswers(fe);
        }
    }

    @Test
    void ringAddressesOutsideGuestMemoryAreRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(1 << 20, 1))
        {
            final long ringGpa = ram.allocate(8192, 4096);
            final long desc = ram.userAddrOf(ringGpa);
            final long avail = desc + 1024;
            final long used = desc + 4096;
            // No memory table yet.
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, desc, used, avail));
            fe.setMemTable(ram);
            fe.setVringNum(0, 64);
            final long end = ram.region(0).userAddr() + ram.region(0).size();
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, end + 4096, used, avail));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, desc, end - 8, avail));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, desc, used, end - 4));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, end - 16, used, avail));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, -4096L, used, avail));
            // A guest-physical address is not a front-end address.
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, ringGpa, ringGpa + 4096, ringGpa + 1024));
            // Misaligned rings.
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, desc + 8, used, avail));
            assertRefused(SET_VRING_ADDR, () -> fe.setVringAddr(0, desc, used + 2, avail));
            fe.setVringAddr(0, desc, used, avail);
            assertStillAnswers(fe);
        }
    }

    @Test
    void ringStartedBeforeItsAddressesWaitsForThemAndIsNoErrorOfOurs() throws Exception
    {
        try (LogRecorder log = LogRecorder.of(VhostUserBackend.class, Class.forName(
                 "io.jvhost.vhostuser.backend.Worker"));
             VhostUserFrontend fe = negotiated();
             GuestRam ram = GuestRam.create(1 << 20, 1);
             GuestRam other = GuestRam.create(1 << 20, 1);
             EventFd kick = EventFd.create())
        {
            fe.setMemTable(ram);
            fe.setVringNum(0, 64);
            // Started with no ring addresses: nothing to serve until SET_VRING_ADDR.
            fe.setVringKick(0, kick);
            log.await(Duration.ofSeconds(5), Level.WARNING, "queue 0 is not in guest memory yet");
            // A new memory table makes the worker look at its rings again; a kick too.
            fe.setMemTable(other);
            kick.signal();
            log.await(Duration.ofSeconds(5), Level.WARNING, "queue 0", "has no ring addresses");
            assertStillAnswers(fe);
            assertThat(log.matching(Level.SEVERE)).as("a front-end's mistake is not our error").isEmpty();
        }
    }

    @Test
    void configAccessOutsideTheConfigSpaceIsRefused() throws Exception
    {
        try (VhostUserFrontend fe = negotiated())
        {
            assertRefused(GET_CONFIG, () -> fe.getConfig(8, 16));
            assertRefused(GET_CONFIG, () -> fe.getConfig(0, 17));
            assertRefused(GET_CONFIG, () -> fe.getConfig(16, 1));
            assertRefused(GET_CONFIG, () -> fe.getConfig(-1, 2));
            assertRefused(GET_CONFIG, () -> fe.getConfig(0, 300));
            assertRefused(SET_CONFIG, () -> fe.setConfig(15, new byte[2]));
            assertRefused(SET_CONFIG, () -> fe.setConfig(-16, new byte[16]));
            assertThat(fe.getConfig(0, 16)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            assertStillAnswers(fe);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 26, 33, 99, 1000, Integer.MAX_VALUE, -1})
    void unknownOrUnsupportedRequestWithNeedReplyGetsAFailureReply(final int request) throws Exception
    {
        try (VhostUserFrontend fe = negotiated())
        {
            fe.sendRaw(request, NEED_REPLY, payload(8), null);
            assertFailureReply(fe, request);
            // Without NEED_REPLY there is no reply at all: the next reply is GET_FEATURES's own.
            fe.sendRaw(request, MessageHeader.VERSION, payload(16), null);
            assertStillAnswers(fe);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {33, 64, 150})
    void messageWithMoreThan32DescriptorsIsRefusedAndEveryDescriptorClosed(final int count) throws Exception
    {
        try (VhostUserFrontend fe = negotiated())
        {
            final List<EventFd> eventFds = new ArrayList<>();
            try
            {
                final int[] fds = new int[count];
                for (int i = 0; i < count; i++)
                {
                    eventFds.add(EventFd.create());
                    fds[i] = eventFds.get(i).fd();
                }
                final MemorySegment file = payload(8);
                file.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0);
                fe.sendRaw(SET_VRING_CALL, NEED_REPLY, file, fds);
                assertFailureReply(fe, SET_VRING_CALL);
            }
            finally
            {
                eventFds.forEach(EventFd::close);
            }
            assertStillAnswers(fe);
        }
    }

    @Test
    void replyFlagsAreExactlyVersionAndReplyEvenWhenTheRequestAskedForAReply() throws Exception
    {
        try (VhostUserFrontend fe = negotiated())
        {
            fe.sendRaw(GET_FEATURES, NEED_REPLY, null, null);
            final VhostUserFrontend.Reply reply = fe.receiveReply();
            assertThat(reply).isNotNull();
            assertThat(reply.flags()).isEqualTo(0x5);
            assertThat(reply.request()).isEqualTo(GET_FEATURES);
            assertThat(reply.size()).isEqualTo(8);
            assertThat(reply.u64(0)).isEqualTo(OFFERED);
            assertStillAnswers(fe);
        }
    }

    @Test
    void headerClaimingAMebibytePayloadDropsTheConnectionAndANewFrontendIsServed() throws Exception
    {
        final VhostUserFrontend fe = negotiated();
        final MemorySegment header = payload(MessageHeader.LENGTH + 64);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, SET_CONFIG);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 4, NEED_REPLY);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 8, 1 << 20);
        fe.sendRawBytes(header, null);
        assertThat(fe.awaitDisconnect(Duration.ofSeconds(5))).as("back-end dropped the connection").isTrue();
        fe.close();
    }

    @Test
    void headerFollowedByEndOfStreamEndsTheConnectionWithoutHandlingThePreviousPayload() throws Exception
    {
        final VhostUserFrontend fe = negotiated();
        fe.setConfig(4, new byte[] {9, 9, 9, 9});
        final long writes = backend.device().configWrites();
        // The same request's header alone, then end of stream: its payload never comes.
        final MemorySegment header = payload(MessageHeader.LENGTH);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, SET_CONFIG);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 4, NEED_REPLY);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 8, Payloads.CONFIG_HEADER + 4);
        final long resets = backend.device().resets();
        fe.sendRawBytes(header, null);
        fe.close();
        assertThat(Await.until(() -> backend.device().resets() > resets, Duration.ofSeconds(5)))
            .as("the back-end ended the connection (and reset the device)").isTrue();
        assertThat(backend.device().configWrites()).as("SET_CONFIG writes: the stale payload was not handled")
            .isEqualTo(writes);
    }

    @Test
    void headerWithABadVersionDropsTheConnectionAndANewFrontendIsServed() throws Exception
    {
        final VhostUserFrontend fe = negotiated();
        fe.sendRaw(GET_FEATURES, 0x2, null, null);
        assertThat(fe.awaitDisconnect(Duration.ofSeconds(5))).as("back-end dropped the connection").isTrue();
        fe.close();
    }

    @Test
    void descriptorsSentWithRequestsThatTakeNoneAreClosed() throws Exception
    {
        try (VhostUserFrontend fe = negotiated();
             EventFd eventFd = EventFd.create())
        {
            fe.sendRaw(GET_FEATURES, MessageHeader.VERSION, null, new int[] {eventFd.fd(), eventFd.fd()});
            final VhostUserFrontend.Reply reply = fe.receiveReply();
            assertThat(reply.u64(0)).isEqualTo(OFFERED);
            final MemorySegment nofd = payload(8);
            nofd.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, Payloads.VRING_FILE_NOFD);
            fe.sendRaw(SET_VRING_CALL, NEED_REPLY, nofd, new int[] {eventFd.fd()});
            assertThat(fe.receiveReply()).isNotNull();
            assertStillAnswers(fe);
        }
    }
}
