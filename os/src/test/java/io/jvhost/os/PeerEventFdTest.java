package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/**
 * An eventfd a peer sent: used without blocking whatever flags the peer gives it, and without changing them.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PeerEventFdTest
{
    private static final long SATURATED = 0xFFFF_FFFF_FFFF_FFFEL;

    private static int flags(final int fd) throws NativeException
    {
        return LibC.fcntl(fd, LibC.F_GETFL, 0);
    }

    private static void write(final int fd, final long value)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
            v.set(ValueLayout.JAVA_LONG, 0, value);
            assertThat(LibC.writeRaw(fd, v.address(), 8)).isEqualTo(8);
        }
    }

    private static long read(final int fd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
            assertThat(LibC.readRaw(fd, v.address(), 8)).isEqualTo(8);
            return v.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Test
    void adoptedEventfdSharesTheCounterAndCloseClosesOnlyTheCopy() throws NativeException
    {
        try (EventFd original = EventFd.create())
        {
            final int copy = EventFdTest.dup(original.fd());
            final PeerEventFd adopted = PeerEventFd.adopt(copy);
            assertThat(adopted.fd()).isEqualTo(copy);
            assertThat(adopted).hasToString("PeerEventFd[fd=" + copy + "]");

            assertThat(adopted.signal()).isTrue();
            assertThat(adopted.signal()).isTrue();
            assertThat(original.drain()).isEqualTo(2);
            original.signal();
            assertThat(adopted.drain()).isEqualTo(1);
            assertThat(adopted.drain()).isZero();
            assertThat(adopted.drainError()).isZero();

            adopted.close();
            adopted.close();
            assertThat(LibC.isOpen(copy)).isFalse();
            assertThat(LibC.isOpen(original.fd())).isTrue();
        }
    }

    @Test
    void onABlockingEventfdDrainAndSignalReturnAtOnceAndItsFlagsAreNeverChanged() throws NativeException
    {
        // The peer's eventfd is blocking (a front-end that blocks reading its call eventfd): an empty counter must
        // not block drain, a saturated one must not block signal, and the flags stay the peer's.
        final int peer = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        try (PeerEventFd adopted = PeerEventFd.adopt(EventFdTest.dup(peer)))
        {
            final int before = flags(peer);
            assertThat(before & LibC.O_NONBLOCK).isZero();

            assertThat(adopted.drain()).as("drain of an empty counter").isZero();
            assertThat(adopted.drainError()).isZero();
            assertThat(adopted.signal()).isTrue();
            assertThat(read(peer)).as("the peer's blocking read sees the signal").isEqualTo(1);

            write(peer, SATURATED);
            assertThat(adopted.signal()).as("signal of a saturated counter is skipped").isFalse();
            assertThat(adopted.drain()).isEqualTo(SATURATED);
            write(peer, SATURATED);
            assertThat(read(peer)).as("the counter the peer saturated is left alone").isEqualTo(SATURATED);

            assertThat(flags(peer)).as("F_GETFL after").isEqualTo(before);
        }
        finally
        {
            LibC.closeQuietly(peer);
        }
    }

    @Test
    void anythingButAPlainEventfdIsRefusedAndStaysTheCallers() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        final int semaphore = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_SEMAPHORE);
        try (MemFd memFd = MemFd.create("not-an-eventfd", 4096))
        {
            final int socketFlags = flags(pair[0].fd());
            assertThatIllegalArgumentException().isThrownBy(() -> PeerEventFd.adopt(pair[0].fd()))
                .withMessageStartingWith("fd " + pair[0].fd() + " is not an eventfd but socket:[");
            assertThatIllegalArgumentException().isThrownBy(() -> PeerEventFd.adopt(memFd.fd()))
                .withMessageStartingWith("fd " + memFd.fd() + " is not an eventfd but /memfd:not-an-eventfd");
            assertThatIllegalArgumentException().isThrownBy(() -> PeerEventFd.adopt(semaphore))
                .withMessage("fd " + semaphore + " is a semaphore-mode eventfd (EFD_SEMAPHORE)");
            assertThatIllegalArgumentException().isThrownBy(() -> PeerEventFd.adopt(1_000_000))
                .withMessageStartingWith("fd 1000000 cannot be inspected");

            assertThat(LibC.isOpen(pair[0].fd())).isTrue();
            assertThat(LibC.isOpen(memFd.fd())).isTrue();
            assertThat(LibC.isOpen(semaphore)).isTrue();
            assertThat(flags(pair[0].fd())).isEqualTo(socketFlags);
        }
        finally
        {
            pair[0].close();
            pair[1].close();
            LibC.closeQuietly(semaphore);
        }
    }

    @Test
    void signalAndDrainAfterCloseDoNotTouchADescriptorThatReusedTheNumber() throws NativeException
    {
        final int peer = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        final PeerEventFd closed = PeerEventFd.adopt(peer);
        closed.close();
        // The lowest free number is handed out again: this eventfd very likely takes the closed one's number.
        try (EventFd reused = EventFd.create())
        {
            reused.signal();

            assertThat(closed.signal()).isFalse();
            assertThat(closed.drain()).isZero();
            assertThat(reused.drain()).as("counter of the descriptor that reused the number").isEqualTo(1);
        }
    }
}
