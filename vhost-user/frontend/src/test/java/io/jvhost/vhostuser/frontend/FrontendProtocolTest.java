package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.os.EventFd;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

import static io.jvhost.vhostuser.protocol.FrontendRequest.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The front-end against a scripted fake back-end on a socket pair: what goes on the wire, and how strictly replies
 * are checked. Replies are written before the call that reads them (the socket buffers them).
 */
@Timeout(30)
class FrontendProtocolTest
{
    private VhostUserFrontend fe;
    private VhostUserConnection peer;
    private final Message request = new Message(MessageHeader.MAX_PAYLOAD);
    private final Message reply = new Message(MessageHeader.MAX_PAYLOAD);

    @BeforeEach
    void connect() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        fe = VhostUserFrontend.over(pair[0]);
        fe.setReplyTimeout(Duration.ofSeconds(2));
        peer = new VhostUserConnection(pair[1], true);
        pair[1].setReceiveTimeout(2000);
    }

    @AfterEach
    void close()
    {
        fe.close();
        peer.close();
        request.fds().closeRemaining();
    }

    private Message nextRequest() throws Exception
    {
        request.fds().closeRemaining();
        assertThat(peer.receive(request)).isTrue();
        return request;
    }

    private void replyU64(final int req, final int flags, final long value) throws Exception
    {
        reply.header(req, flags, 8).u64(0, value);
        peer.send(reply);
    }

    private void negotiateReplyAck() throws Exception
    {
        fe.setProtocolFeatures(ProtocolFeature.bit(ProtocolFeature.REPLY_ACK));
        assertThat(nextRequest().request()).isEqualTo(SET_PROTOCOL_FEATURES);
        assertThat(request.flags()).as("SET_PROTOCOL_FEATURES is never acked").isEqualTo(1);
    }

    @Test
    void requestsCarryVersionOneAndQemusPayloadLayout() throws Exception
    {
        fe.setVringAddr(1, 0x1000, 0x3000, 0x2000);
        final Message m = nextRequest();
        assertThat(m.request()).isEqualTo(SET_VRING_ADDR);
        assertThat(m.flags()).isEqualTo(MessageHeader.VERSION);
        assertThat(m.size()).isEqualTo(40);
        assertThat(m.u32(0)).isEqualTo(1);
        assertThat(m.u64(8)).as("desc").isEqualTo(0x1000);
        assertThat(m.u64(16)).as("used").isEqualTo(0x3000);
        assertThat(m.u64(24)).as("avail").isEqualTo(0x2000);

        try (GuestRam ram = GuestRam.builder().size(2 << 20).regions(2).gap(1 << 20).build())
        {
            fe.setMemTable(ram);
            nextRequest();
            assertThat(request.request()).isEqualTo(SET_MEM_TABLE);
            assertThat(request.size()).isEqualTo(8 + 2 * 32);
            assertThat(request.fds().count()).isEqualTo(2);
            assertThat(request.u32(0)).isEqualTo(2);
            assertThat(request.u64(8 + 32)).isEqualTo(ram.region(1).guestPhysAddr());
            assertThat(request.u64(8 + 32 + 8)).isEqualTo(ram.region(1).size());
            assertThat(request.u64(8 + 32 + 16)).isEqualTo(ram.region(1).userAddr());
            assertThat(request.u64(8 + 32 + 24)).isEqualTo(ram.region(1).mmapOffset());
        }

        try (EventFd e = EventFd.create())
        {
            fe.setVringKick(3, e);
            assertThat(nextRequest().u64(0)).isEqualTo(3);
            assertThat(request.fds().count()).isEqualTo(1);
            fe.setVringCall(4, null);
            assertThat(nextRequest().u64(0)).isEqualTo(0x104);
            assertThat(request.fds().count()).isZero();
        }
    }

    @Test
    void needReplyIsSetOnceReplyAckIsNegotiatedAndANonZeroAckNamesRequestAndCode() throws Exception
    {
        fe.setVringNum(0, 64);
        assertThat(nextRequest().flags()).isEqualTo(MessageHeader.VERSION);

        negotiateReplyAck();
        replyU64(SET_VRING_NUM, MessageHeader.REPLY_FLAGS, 0);
        fe.setVringNum(0, 64);
        assertThat(nextRequest().flags()).isEqualTo(MessageHeader.VERSION | MessageHeader.NEED_REPLY);

        replyU64(SET_VRING_NUM, MessageHeader.REPLY_FLAGS, 22);
        assertThatThrownBy(() -> fe.setVringNum(0, 3)).isInstanceOfSatisfying(FrontendException.class, e ->
        {
            assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED);
            assertThat(e.request()).isEqualTo(SET_VRING_NUM);
            assertThat(e.code()).isEqualTo(22);
            assertThat(e.getMessage()).contains("SET_VRING_NUM").contains("22");
        });
        // Requests with a reply of their own never carry NEED_REPLY.
        replyU64(GET_FEATURES, MessageHeader.REPLY_FLAGS, 7);
        assertThat(fe.getFeatures()).isEqualTo(7);
        nextRequest();
        assertThat(nextRequest().request()).isEqualTo(GET_FEATURES);
        assertThat(request.flags()).isEqualTo(MessageHeader.VERSION);
    }

    @Test
    void likeQemuPolicyAcksOnlyWhatQemuAcks() throws Exception
    {
        negotiateReplyAck();
        fe.setNeedReply(VhostUserFrontend.NeedReply.LIKE_QEMU);
        fe.setVringBase(0, 0);
        assertThat(nextRequest().flags()).isEqualTo(MessageHeader.VERSION);
        replyU64(SET_VRING_ENABLE, MessageHeader.REPLY_FLAGS, 0);
        fe.setVringEnable(0, true);
        assertThat(nextRequest().flags()).isEqualTo(MessageHeader.VERSION | MessageHeader.NEED_REPLY);
    }

    @Test
    void replyFlagsMustBeExactlyVersionAndReply() throws Exception
    {
        for (final int flags : new int[] {0xD, 0x4, 0x6, 0x1})
        {
            replyU64(GET_FEATURES, flags, 1);
            assertThatThrownBy(() -> fe.getFeatures()).isInstanceOfSatisfying(FrontendException.class,
                e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.BAD_REPLY))
                .hasMessageContaining("flags 0x" + Integer.toHexString(flags));
        }
    }

    @Test
    void replyForAnotherRequestOrOfTheWrongSizeIsRejected() throws Exception
    {
        replyU64(GET_PROTOCOL_FEATURES, MessageHeader.REPLY_FLAGS, 1);
        assertThatThrownBy(() -> fe.getFeatures()).isInstanceOf(FrontendException.class)
            .hasMessageContaining("reply is for GET_PROTOCOL_FEATURES");

        reply.header(GET_QUEUE_NUM, MessageHeader.REPLY_FLAGS, 4).u32(0, 2);
        peer.send(reply);
        assertThatThrownBy(() -> fe.getQueueNum()).isInstanceOf(FrontendException.class)
            .hasMessageContaining("size 4");

        reply.header(GET_VRING_BASE, MessageHeader.REPLY_FLAGS, 8).u32(0, 0).u32(4, 9);
        peer.send(reply);
        assertThatThrownBy(() -> fe.getVringBase(1)).isInstanceOf(FrontendException.class)
            .hasMessageContaining("queue 0");

        reply.header(GET_VRING_BASE, MessageHeader.REPLY_FLAGS, 8).u32(0, 1).u32(4, 9);
        peer.send(reply);
        assertThat(fe.getVringBase(1)).isEqualTo(9);
    }

    @Test
    void replyCarryingDescriptorsIsRejectedAndTheDescriptorsClosed() throws Exception
    {
        try (EventFd e = EventFd.create())
        {
            reply.header(GET_FEATURES, MessageHeader.REPLY_FLAGS, 8).u64(0, 1);
            peer.send(reply, new int[] {e.fd()}, 1);
            final OpenFds before = OpenFds.snapshot();
            assertThatThrownBy(() -> fe.getFeatures()).hasMessageContaining("descriptor");
            assertThat(OpenFds.snapshot().count()).isLessThanOrEqualTo(before.count());
        }
    }

    @Test
    void getConfigReplyMustBeTwelvePlusSizeBytesEchoingTheRange() throws Exception
    {
        reply.header(GET_CONFIG, MessageHeader.REPLY_FLAGS, 12 + 4).u32(0, 4).u32(4, 4).u32(8, 0).u32(12, 0x04030201);
        peer.send(reply);
        assertThat(fe.getConfig(4, 4)).containsExactly(1, 2, 3, 4);
        final Message m = nextRequest();
        assertThat(m.size()).isEqualTo(16);
        assertThat(m.u32(0)).isEqualTo(4);
        assertThat(m.u32(4)).isEqualTo(4);

        reply.header(GET_CONFIG, MessageHeader.REPLY_FLAGS, 12 + 4).u32(0, 0).u32(4, 4).u32(8, 0);
        peer.send(reply);
        assertThatThrownBy(() -> fe.getConfig(4, 4)).hasMessageContaining("offset 0");

        reply.header(GET_CONFIG, MessageHeader.REPLY_FLAGS, 12 + 2).u32(0, 4).u32(4, 2).u32(8, 0);
        peer.send(reply);
        assertThatThrownBy(() -> fe.getConfig(4, 4)).hasMessageContaining("size 14");

        replyU64(GET_CONFIG, MessageHeader.REPLY_FLAGS, 1);
        assertThatThrownBy(() -> fe.getConfig(4, 4)).isInstanceOfSatisfying(FrontendException.class,
            e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED));

        reply.header(GET_CONFIG, MessageHeader.REPLY_FLAGS, 0);
        peer.send(reply);
        assertThatThrownBy(() -> fe.getConfig(4, 4)).isInstanceOfSatisfying(FrontendException.class,
            e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED));
    }

    @Test
    void silentBackendTimesOutAndTheConnectionIsThenUnusable() throws Exception
    {
        fe.setReplyTimeout(Duration.ofMillis(200));
        final long start = System.nanoTime();
        assertThatThrownBy(() -> fe.getFeatures()).isInstanceOfSatisfying(FrontendException.class,
            e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.TIMEOUT))
            .hasMessageContaining("GET_FEATURES").hasMessageContaining("200 ms");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(fe.brokenReason()).isNotNull();
        assertThatThrownBy(() -> fe.setOwner()).isInstanceOfSatisfying(FrontendException.class,
            e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.DISCONNECTED));
    }

    @Test
    void backendThatHangsUpIsReportedAsDisconnected() throws Exception
    {
        negotiateReplyAck();
        peer.close();
        assertThatThrownBy(() -> fe.setOwner()).isInstanceOfSatisfying(FrontendException.class,
            e -> assertThat(e.kind()).isEqualTo(FrontendException.Kind.DISCONNECTED))
            .hasMessageContaining(FrontendRequest.name(SET_OWNER));
        assertThat(fe.receiveReply()).isNull();
    }

    @Test
    void rawMessagesGoOutUnchangedAndAnyReplyIsReturned() throws Exception
    {
        fe.sendRaw(12345, 0x9, MemorySegment.ofArray(new byte[] {1, 2, 3}), null);
        final Message m = nextRequest();
        assertThat(m.request()).isEqualTo(12345);
        assertThat(m.flags()).isEqualTo(9);
        assertThat(m.size()).isEqualTo(3);

        replyU64(77, 0x1D, 5);
        final VhostUserFrontend.Reply r = fe.receiveReply();
        assertThat(r.request()).isEqualTo(77);
        assertThat(r.flags()).isEqualTo(0x1D);
        assertThat(r.u64(0)).isEqualTo(5);
        assertThat(r.isAck(77)).isFalse();
    }
}
