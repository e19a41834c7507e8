package io.jvhost.vhostuser.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.os.FdList;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.BackendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The back-end's side of the back-end channel against a front-end played here: what goes out, how answers are read,
 * and that a front-end that does not read, does not answer, answers garbage or goes away never blocks the caller.
 */
@Timeout(20)
class BackendRequestChannelTest
{
    private final Arena arena = Arena.ofShared();
    private UnixSocket frontend;
    private BackendRequestChannel channel;

    private void open(final boolean replyAck) throws NativeException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        frontend = pair[0];
        channel = new BackendRequestChannel("test", pair[1], replyAck);
    }

    @AfterEach
    void close()
    {
        if (null != channel)
        {
            channel.close();
        }
        if (null != frontend)
        {
            frontend.close();
        }
        arena.close();
    }

    private MemorySegment readHeader() throws Exception
    {
        final MemorySegment header = arena.allocate(MessageHeader.LENGTH);
        assertThat(frontend.receiveFully(header, 0, MessageHeader.LENGTH, new FdList())).isTrue();
        return header;
    }

    private void answer(final int request, final int flags, final int size, final long status) throws Exception
    {
        final MemorySegment reply = arena.allocate(MessageHeader.LENGTH + 8);
        reply.set(ValueLayout.JAVA_INT, 0, request);
        reply.set(ValueLayout.JAVA_INT, 4, flags);
        reply.set(ValueLayout.JAVA_INT, 8, size);
        reply.set(ValueLayout.JAVA_LONG_UNALIGNED, 12, status);
        frontend.send(reply, 0, reply.byteSize(), new int[0], 0);
    }

    @Test
    void configChangeIsAHeaderWithoutPayloadAskingForAnAnswerWithReplyAck() throws Exception
    {
        open(true);
        assertThat(channel.configChanged()).isTrue();
        final MemorySegment h = readHeader();
        assertThat(h.get(ValueLayout.JAVA_INT, 0)).isEqualTo(BackendRequest.CONFIG_CHANGE_MSG);
        assertThat(h.get(ValueLayout.JAVA_INT, 4)).isEqualTo(MessageHeader.VERSION | MessageHeader.NEED_REPLY);
        assertThat(h.get(ValueLayout.JAVA_INT, 8)).isZero();
        assertThat(channel.sent()).isEqualTo(1);
        assertThat(channel.unanswered()).isEqualTo(1);
    }

    @Test
    void withoutReplyAckNoAnswerIsAskedFor() throws Exception
    {
        open(false);
        assertThat(channel.configChanged()).isTrue();
        assertThat(readHeader().get(ValueLayout.JAVA_INT, 4)).isEqualTo(MessageHeader.VERSION);
        assertThat(channel.unanswered()).isZero();
    }

    @Test
    void answersAreReadWithoutWaitingAndCountedAsHandledOrNot() throws Exception
    {
        open(true);
        channel.configChanged();
        channel.configChanged();
        readHeader();
        readHeader();
        channel.drainReplies();
        assertThat(channel.unanswered()).as("nothing arrived yet: the drain did not wait").isEqualTo(2);

        answer(BackendRequest.CONFIG_CHANGE_MSG, MessageHeader.REPLY_FLAGS, 8, 0);
        answer(BackendRequest.CONFIG_CHANGE_MSG, MessageHeader.REPLY_FLAGS, 8, 1);
        while (channel.unanswered() > 0)
        {
            channel.drainReplies();
        }
        assertThat(channel.answers()).containsExactly(1, 1);
        assertThat(channel.endedBecause()).isNull();
    }

    @Test
    void aFrontEndThatDoesNotReadTheChannelLosesNotificationsButNeverBlocksTheCaller() throws Exception
    {
        open(false);
        long accepted = 0;
        while (channel.configChanged())
        {
            accepted++;
        }
        assertThat(accepted).as("the socket buffer took some").isPositive();
        assertThat(channel.configChanged()).isFalse();
        assertThat(channel.dropped()).isEqualTo(2);
        assertThat(channel.endedBecause()).as("a full socket is not an end").isNull();

        // Once the front-end reads again, notifications go out again.
        readHeader();
        assertThat(channel.configChanged()).isTrue();
    }

    @Test
    void aFrontEndThatNeverAnswersStopsTheNotificationsAfterABound() throws Exception
    {
        open(true);
        for (int i = 0; i < BackendRequestChannel.MAX_UNANSWERED; i++)
        {
            assertThat(channel.configChanged()).isTrue();
        }
        assertThat(channel.configChanged()).isFalse();
        assertThat(channel.sent()).isEqualTo(BackendRequestChannel.MAX_UNANSWERED);
        assertThat(channel.dropped()).isEqualTo(1);

        readHeader();
        answer(BackendRequest.CONFIG_CHANGE_MSG, MessageHeader.REPLY_FLAGS, 8, 0);
        while (channel.unanswered() == BackendRequestChannel.MAX_UNANSWERED)
        {
            channel.drainReplies();
        }
        assertThat(channel.configChanged()).as("one answer makes room for one more").isTrue();
    }

    @Test
    void aFrontEndThatClosesTheChannelEndsIt() throws Exception
    {
        open(true);
        channel.configChanged();
        frontend.close();
        channel.drainReplies();
        assertThat(channel.endedBecause()).as("closed, or reset with our message unread").containsAnyOf("closed", "ECONNRESET");
        assertThat(channel.configChanged()).isFalse();
        assertThat(channel.configChanged()).isFalse();
        assertThat(channel.dropped()).isEqualTo(2);
    }

    @Test
    void aFrontEndThatClosesWithNothingOutstandingEndsItAtTheNextSend() throws Exception
    {
        open(false);
        frontend.close();
        assertThat(channel.configChanged()).isFalse();
        assertThat(channel.endedBecause()).contains("EPIPE");
    }

    @Test
    void anAnswerThatIsNotAReplyToConfigChangeEndsTheChannel() throws Exception
    {
        open(true);
        channel.configChanged();
        readHeader();
        answer(BackendRequest.CONFIG_CHANGE_MSG, MessageHeader.VERSION, 8, 0);
        while (null == channel.endedBecause())
        {
            channel.drainReplies();
        }
        assertThat(channel.endedBecause()).contains("flags 0x1");
        assertThat(channel.configChanged()).isFalse();
    }

    @Test
    void aNotificationAfterCloseIsDroppedQuietly() throws Exception
    {
        open(true);
        channel.close();
        assertThat(channel.configChanged()).isFalse();
        channel.drainReplies();
    }
}
