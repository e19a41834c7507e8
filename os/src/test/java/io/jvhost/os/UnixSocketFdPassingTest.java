package io.jvhost.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

@Timeout(60)
class UnixSocketFdPassingTest
{
    private final Arena arena = Arena.ofConfined();
    private final List<EventFd> senderEventFds = new ArrayList<>();
    private UnixSocket sender;
    private UnixSocket receiver;

    @BeforeEach
    void connect() throws NativeException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        sender = pair[0];
        receiver = pair[1];
    }

    @AfterEach
    void closeAll()
    {
        senderEventFds.forEach(EventFd::close);
        sender.close();
        receiver.close();
        arena.close();
    }

    private int[] eventFds(final int count) throws NativeException
    {
        final int[] fds = new int[count];
        for (int i = 0; i < count; i++)
        {
            final EventFd e = EventFd.create();
            senderEventFds.add(e);
            fds[i] = e.fd();
        }
        return fds;
    }

    /**
     * Each received descriptor {@code i} must be the sender's eventfd {@code i}: signal through it and drain there.
     */
    private void assertReceivedAreTheFirstSent(final FdList fds) throws NativeException
    {
        for (int i = 0; i < fds.count(); i++)
        {
            final int fd = fds.peek(i);
            assertThat(OpenFds.isCloseOnExec(fd)).isTrue();
            final MemorySegment one = arena.allocate(8);
            one.set(ValueLayout.JAVA_LONG, 0, i + 1);
            assertThat(LibC.writeRaw(fd, one.address(), 8)).isEqualTo(8);
            assertThat(senderEventFds.get(i).drain()).as("counter of sent eventfd %d", i).isEqualTo(i + 1);
        }
    }

    @Test
    void sentEventFdAndMemFdArriveWorkingWithTheData() throws IOException
    {
        final long size = 2 * 4096;
        try (EventFd eventFd = EventFd.create();
             MemFd memFd = MemFd.create("passed", size);
             MappedMemory senderMap = memFd.map())
        {
            senderMap.segment().setString(100, "guest RAM contents");
            final MemorySegment message = arena.allocateFrom("SET_MEM_TABLE");
            sender.send(message, 0, message.byteSize(), new int[] {eventFd.fd(), memFd.fd()}, 2);

            final MemorySegment buf = arena.allocate(message.byteSize());
            final FdList fds = new FdList();
            assertThat(receiver.receiveFully(buf, 0, buf.byteSize(), fds)).isTrue();

            assertThat(buf.getString(0)).isEqualTo("SET_MEM_TABLE");
            assertThat(fds.count()).isEqualTo(2);
            assertThat(fds.dropped()).isZero();
            assertThat(fds.peek(0)).isNotIn(eventFd.fd(), memFd.fd());
            assertThat(fds.peek(1)).isNotIn(eventFd.fd(), memFd.fd());

            try (PeerEventFd receivedEvent = PeerEventFd.adopt(fds.take(0)))
            {
                receivedEvent.signal();
                receivedEvent.signal();
                assertThat(eventFd.drain()).isEqualTo(2);
                eventFd.signal();
                assertThat(receivedEvent.drain()).isEqualTo(1);
            }

            final int receivedMem = fds.take(1);
            assertThat(fds.take(1)).as("taking twice").isEqualTo(-1);
            assertThat(LibC.fileSize(receivedMem)).isEqualTo(size);
            try (MappedMemory receiverMap = MappedMemory.map(receivedMem, 0, size))
            {
                LibC.close(receivedMem);
                assertThat(receiverMap.segment().getString(100)).isEqualTo("guest RAM contents");
                receiverMap.segment().set(ValueLayout.JAVA_INT, 0, 0x5A5A5A5A);
                assertThat(senderMap.segment().get(ValueLayout.JAVA_INT, 0)).isEqualTo(0x5A5A5A5A);
            }
            fds.closeRemaining();
        }
    }

    @Test
    void receivedDescriptorsAreCloseOnExecEvenWhenTheSentOnesWereNot() throws IOException
    {
        final int plain = LibC.eventfd(0, 0);
        try
        {
            assertThat(OpenFds.isCloseOnExec(plain)).as("sent descriptor").isFalse();
            final MemorySegment data = arena.allocate(1);
            sender.send(data, 0, 1, new int[] {plain, plain}, 2);

            final FdList fds = new FdList();
            assertThat(receiver.receive(data, 0, 1, fds)).isEqualTo(1);

            assertThat(fds.count()).isEqualTo(2);
            assertThat(OpenFds.isCloseOnExec(fds.peek(0))).isTrue();
            assertThat(OpenFds.isCloseOnExec(fds.peek(1))).isTrue();
            fds.closeRemaining();
        }
        finally
        {
            LibC.close(plain);
        }
    }

    @Test
    void closeRemainingClosesUntakenReceivedDescriptors() throws IOException
    {
        final int[] sent = eventFds(3);
        final MemorySegment data = arena.allocate(4);
        sender.send(data, 0, 4, sent, 3);
        final FdList fds = new FdList();
        assertThat(receiver.receiveFully(data, 0, 4, fds)).isTrue();
        final int kept = fds.take(1);
        final int[] received = {fds.peek(0), kept, fds.peek(2)};

        fds.closeRemaining();

        assertThat(fds.count()).isZero();
        assertThat(LibC.isOpen(received[0])).isFalse();
        assertThat(LibC.isOpen(received[2])).isFalse();
        assertThat(LibC.isOpen(kept)).isTrue();
        LibC.close(kept);
    }

    @Test
    void sendingThirtyTwoDescriptorsWorks() throws IOException
    {
        final int[] sent = eventFds(FdList.MAX_FDS);
        final MemorySegment data = arena.allocate(8);
        sender.send(data, 0, 8, sent, sent.length);

        final FdList fds = new FdList();
        assertThat(receiver.receiveFully(data, 0, 8, fds)).isTrue();

        assertThat(fds.count()).isEqualTo(32);
        assertThat(fds.dropped()).isZero();
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
    }

    @Test
    void onlyTheFirstFdCountDescriptorsOfTheArrayAreSent() throws IOException
    {
        final int[] sent = eventFds(3);
        final MemorySegment data = arena.allocate(1);
        sender.send(data, 0, 1, new int[] {sent[0], sent[1], sent[2], -1, -1}, 3);

        final FdList fds = new FdList();
        assertThat(receiver.receive(data, 0, 1, fds)).isEqualTo(1);
        assertThat(fds.count()).isEqualTo(3);
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
    }

    @Test
    void sendingMoreThanThirtyTwoDescriptorsIsRefusedBeforeAnythingIsSent() throws IOException
    {
        final int[] sent = eventFds(33);
        final MemorySegment data = arena.allocate(8);

        assertThatIllegalArgumentException().isThrownBy(() -> sender.send(data, 0, 8, sent, 33))
            .withMessageContaining("33");

        LibC.setNonBlocking(receiver.fd(), true);
        assertThat(LibC.readRaw(receiver.fd(), data.address(), 8)).isEqualTo(-Errno.EAGAIN);
    }

    @Test
    void sendingDescriptorsWithoutDataIsRefusedBecauseTheKernelWouldDropThem() throws IOException
    {
        final int[] sent = eventFds(1);
        final MemorySegment data = arena.allocate(8);

        assertThatIllegalArgumentException().isThrownBy(() -> sender.send(data, 0, 0, sent, 1));

        // Sending nothing at all is still a no-op.
        sender.send(data, 0, 0, null, 0);
        LibC.setNonBlocking(receiver.fd(), true);
        assertThat(LibC.readRaw(receiver.fd(), data.address(), 8)).isEqualTo(-Errno.EAGAIN);
    }

    @Test
    void receiveClosesDescriptorsBeyondThirtyTwoFromTwoControlMessagesOfOneSendmsg() throws IOException
    {
        final int[] sent = eventFds(40);
        final OpenFds before = OpenFds.snapshot();

        final long n = RawSendMsg.send(sender.fd(), new byte[] {'m'},
            Arrays.copyOfRange(sent, 0, 20), Arrays.copyOfRange(sent, 20, 40));
        assertThat(n).isEqualTo(1);

        final FdList fds = new FdList();
        final MemorySegment buf = arena.allocate(1);
        assertThat(receiver.receive(buf, 0, 1, fds)).isEqualTo(1);

        assertThat(fds.count()).isEqualTo(32);
        assertThat(fds.dropped()).isEqualTo(8);
        assertThat(OpenFds.snapshot().count()).as("32 new descriptors, the other 8 closed")
            .isEqualTo(before.count() + 32);
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void receiveFullyClosesDescriptorsBeyondThirtyTwoFromTwoMessages() throws IOException
    {
        final int[] sent = eventFds(40);
        final OpenFds before = OpenFds.snapshot();

        assertThat(RawSendMsg.send(sender.fd(), new byte[] {'a'}, Arrays.copyOfRange(sent, 0, 20))).isEqualTo(1);
        assertThat(RawSendMsg.send(sender.fd(), new byte[] {'b'}, Arrays.copyOfRange(sent, 20, 40))).isEqualTo(1);

        final FdList fds = new FdList();
        final MemorySegment buf = arena.allocate(2);
        assertThat(receiver.receiveFully(buf, 0, 2, fds)).isTrue();

        assertThat(buf.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte)'b');
        assertThat(fds.count()).isEqualTo(32);
        assertThat(fds.dropped()).isEqualTo(8);
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void receiveClosesDescriptorsThatOverflowTheControlBuffer() throws IOException
    {
        final int[] sent = eventFds(200);
        final OpenFds before = OpenFds.snapshot();

        assertThat(RawSendMsg.send(sender.fd(), new byte[] {'z'}, sent)).isEqualTo(1);

        final FdList fds = new FdList();
        final MemorySegment buf = arena.allocate(1);
        assertThat(receiver.receive(buf, 0, 1, fds)).isEqualTo(1);

        assertThat(fds.count()).isEqualTo(32);
        // 124 fit the 512-byte control buffer (92 of them closed on receipt), the kernel discarded the other 76.
        assertThat(fds.dropped()).isEqualTo(92 + 1);
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
        OpenFds.assertNoLeakSince(before);
    }

    @Test
    void descriptorsArriveWithTheFirstByteOfAPartiallyReadMessage() throws IOException
    {
        final int[] sent = eventFds(2);
        final MemorySegment data = arena.allocateFrom("0123456789");
        sender.send(data, 0, 10, sent, 2);

        final MemorySegment buf = arena.allocate(10);
        final FdList fds = new FdList();
        assertThat(receiver.receive(buf, 0, 3, fds)).isEqualTo(3);
        assertThat(fds.count()).isEqualTo(2);
        assertThat(receiver.receiveFully(buf, 3, 7, fds)).isTrue();
        assertThat(fds.count()).as("no descriptor delivered twice").isEqualTo(2);
        assertReceivedAreTheFirstSent(fds);
        fds.closeRemaining();
    }

    @Test
    void noDescriptorLeaksOverManyMessagesWithDescriptors() throws IOException
    {
        final int[] sent = eventFds(4);
        final MemorySegment data = arena.allocate(16);
        final FdList fds = new FdList();
        sender.send(data, 0, 16, sent, 4);
        receiver.receiveFully(data, 0, 16, fds);
        fds.closeRemaining();
        final OpenFds before = OpenFds.snapshot();

        for (int i = 0; i < 1000; i++)
        {
            sender.send(data, 0, 16, sent, 1 + i % 4);
            assertThat(receiver.receiveFully(data, 0, 16, fds)).isTrue();
            assertThat(fds.count()).isEqualTo(1 + i % 4);
            fds.closeRemaining();
        }

        OpenFds.assertNoLeakSince(before);
    }
}
