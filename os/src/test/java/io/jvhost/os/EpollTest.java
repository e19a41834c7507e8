package io.jvhost.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

@Timeout(30)
class EpollTest
{
    private Epoll epoll;
    private EventFd a;
    private EventFd b;

    @BeforeEach
    void create() throws NativeException
    {
        epoll = Epoll.create(8);
        a = EventFd.create();
        b = EventFd.create();
    }

    @AfterEach
    void close()
    {
        epoll.close();
        a.close();
        b.close();
    }

    @Test
    void epollDescriptorIsCloseOnExec() throws NativeException
    {
        assertThat(OpenFds.isCloseOnExec(epoll.fd())).isTrue();
    }

    @Test
    void awaitReturnsNothingUntilAWatchedEventFdIsSignalled() throws NativeException
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 42);
        assertThat(epoll.await(0)).isZero();
        assertThat(epoll.await(10)).isZero();

        a.signal();

        assertThat(epoll.await(0)).isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(42);
        assertThat(epoll.readyMask(0)).isEqualTo(LibC.EPOLLIN);
    }

    @Test
    void readinessIsLevelTriggeredUntilTheCounterIsDrained() throws NativeException
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 1);
        a.signal();

        for (int i = 0; i < 3; i++)
        {
            assertThat(epoll.await(0)).as("wait %d", i).isEqualTo(1);
            assertThat(epoll.token(0)).isEqualTo(1);
        }
        assertThat(a.drain()).isEqualTo(1);
        assertThat(epoll.await(0)).isZero();
    }

    @Test
    void tokensUseAllSixtyFourBitsAndIdentifyEachDescriptor() throws NativeException
    {
        final long tokenA = 0x8123_4567_89AB_CDEFL;
        final long tokenB = -1L;
        epoll.add(a.fd(), LibC.EPOLLIN, tokenA);
        epoll.add(b.fd(), LibC.EPOLLIN, tokenB);
        a.signal();
        b.signal();

        assertThat(epoll.await(0)).isEqualTo(2);
        final Map<Long, Integer> ready = new HashMap<>();
        for (int i = 0; i < 2; i++)
        {
            ready.put(epoll.token(i), epoll.readyMask(i));
        }
        assertThat(ready).containsOnly(Map.entry(tokenA, LibC.EPOLLIN), Map.entry(tokenB, LibC.EPOLLIN));

        a.drain();
        assertThat(epoll.await(0)).isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(tokenB);
    }

    @Test
    void awaitReturnsAtMostMaxEventsPerCall() throws NativeException
    {
        try (Epoll small = Epoll.create(1))
        {
            small.add(a.fd(), LibC.EPOLLIN, 1);
            small.add(b.fd(), LibC.EPOLLIN, 2);
            a.signal();
            b.signal();

            assertThat(small.await(0)).isEqualTo(1);
            final long first = small.token(0);
            assertThat(first).isIn(1L, 2L);
        }
    }

    @Test
    void modifyChangesTheTokenAndTheMask() throws NativeException
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 5);
        a.signal();

        epoll.modify(a.fd(), LibC.EPOLLIN, 6);
        assertThat(epoll.await(0)).isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(6);

        a.drain();
        epoll.modify(a.fd(), LibC.EPOLLOUT, 7);
        assertThat(epoll.await(0)).as("an eventfd is writable").isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(7);
        assertThat(epoll.readyMask(0)).isEqualTo(LibC.EPOLLOUT);
    }

    @Test
    void modifyAllocatesNothingOnceWarm() throws NativeException
    {
        // A device's data path may flip a socket's EPOLLOUT per packet (vsock, while a host reader is behind).
        epoll.add(a.fd(), LibC.EPOLLIN, 1);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        long best = Long.MAX_VALUE;
        for (int round = 0; round < 20 && best > 0; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 5000; i++)
            {
                epoll.modify(a.fd(), (i & 1) == 0 ? LibC.EPOLLIN | LibC.EPOLLOUT : LibC.EPOLLIN, 1);
            }
            best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
        }
        assertThat(best).as("bytes allocated by 5000 modifies").isZero();
    }

    @Test
    void removeStopsReportingTheDescriptor() throws NativeException
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 1);
        epoll.add(b.fd(), LibC.EPOLLIN, 2);
        a.signal();
        b.signal();

        epoll.remove(a.fd());

        assertThat(epoll.await(0)).isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(2);
    }

    @Test
    void removingAnUnwatchedOrInvalidDescriptorIsIgnored()
    {
        assertThatNoException().isThrownBy(() -> epoll.remove(a.fd()));
        assertThatNoException().isThrownBy(() -> epoll.remove(Integer.MAX_VALUE));
        assertThatNoException().isThrownBy(() -> epoll.remove(-1));
    }

    @Test
    void removeOfADescriptorThatCannotBeWatchedIsAnError() throws IOException
    {
        final java.nio.file.Path file = java.nio.file.Files.createTempFile("epoll", ".txt");
        final int fd = LibC.open(file.toString(), 0);
        try
        {
            // Regular files do not support epoll: EPERM is not one of the ignored errors.
            assertThatIllegalStateException().isThrownBy(() -> epoll.remove(fd))
                .withCauseInstanceOf(NativeException.class)
                .withMessageContaining("EPERM");
        }
        finally
        {
            LibC.close(fd);
            java.nio.file.Files.delete(file);
        }
    }

    @Test
    void addingTwiceOrModifyingAnUnwatchedDescriptorFails() throws NativeException
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 1);

        final NativeException twice = catchThrowableOfType(NativeException.class, () -> epoll.add(a.fd(), LibC.EPOLLIN, 1));
        assertThat(twice.errno()).isEqualTo(Errno.EEXIST);
        assertThat(twice).hasMessageContaining("epoll_ctl").hasMessageContaining("fd=" + a.fd());

        final NativeException unwatched =
            catchThrowableOfType(NativeException.class, () -> epoll.modify(b.fd(), LibC.EPOLLIN, 1));
        assertThat(unwatched.errno()).isEqualTo(Errno.ENOENT);
    }

    @Test
    void socketPeerDataAndHangUpAreReported() throws NativeException
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket local = pair[1])
        {
            epoll.add(local.fd(), LibC.EPOLLIN | LibC.EPOLLRDHUP, 9);
            assertThat(epoll.await(0)).isZero();

            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment one = arena.allocate(1);
                pair[0].send(one, 0, 1, null, 0);
                assertThat(epoll.await(0)).isEqualTo(1);
                assertThat(epoll.readyMask(0)).isEqualTo(LibC.EPOLLIN);
                local.receive(one, 0, 1, new FdList());
            }
            assertThat(epoll.await(0)).isZero();

            pair[0].close();
            assertThat(epoll.await(0)).isEqualTo(1);
            assertThat(epoll.token(0)).isEqualTo(9);
            assertThat(epoll.readyMask(0) & (LibC.EPOLLRDHUP | LibC.EPOLLHUP)).isNotZero();
            epoll.remove(local.fd());
        }
    }

    @Test
    void awaitWakesWhenAnotherThreadSignals() throws Exception
    {
        epoll.add(a.fd(), LibC.EPOLLIN, 77);
        final Thread signaller = Thread.ofPlatform().start(a::signal);

        assertThat(epoll.await(-1)).isEqualTo(1);
        assertThat(epoll.token(0)).isEqualTo(77);
        signaller.join();
    }

    @Test
    void awaitAfterCloseThrowsIllegalStateExceptionAndCloseIsIdempotent() throws NativeException
    {
        final Epoll closed = Epoll.create(4);
        final int fd = closed.fd();
        closed.close();
        closed.close();

        assertThat(LibC.isOpen(fd)).isFalse();
        assertThatIllegalStateException().isThrownBy(() -> closed.await(0));
    }
    @Test
    void callsAfterCloseThrowAndNeverReachAnEpollThatReusedTheNumber() throws NativeException
    {
        final Epoll closed = Epoll.create(4);
        final int number = closed.fd();
        closed.close();
        // The lowest free number is handed out again: this epoll very likely takes the closed one's number.
        try (Epoll reused = Epoll.create(4))
        {
            reused.add(a.fd(), LibC.EPOLLIN, 5);
            a.signal();

            assertThatIllegalStateException().isThrownBy(() -> closed.remove(a.fd()))
                .withMessageContaining("epoll fd " + number + " is closed");
            assertThatIllegalStateException().isThrownBy(() -> closed.add(b.fd(), LibC.EPOLLIN, 6))
                .withMessageContaining("epoll fd " + number + " is closed");
            assertThatIllegalStateException().isThrownBy(() -> closed.modify(a.fd(), LibC.EPOLLOUT, 7))
                .withMessageContaining("epoll fd " + number + " is closed");
            assertThatIllegalStateException().isThrownBy(() -> closed.await(0))
                .withMessageContaining("epoll fd " + number + " is closed");

            assertThat(reused.await(0)).as("the epoll holding the number still watches a, unchanged").isEqualTo(1);
            assertThat(reused.token(0)).isEqualTo(5);
            assertThat(reused.readyMask(0)).isEqualTo(LibC.EPOLLIN);
        }
    }

    @Test
    void closeWhileAnotherThreadWaitsReleasesTheDescriptorWhenTheWaitReturns() throws Exception
    {
        final Epoll shared = Epoll.create(4);
        final int number = shared.fd();
        shared.add(a.fd(), LibC.EPOLLIN, 9);
        final int[] got = new int[1];
        final Thread waiter = Thread.ofPlatform().name("epoll-waiter").start(() ->
        {
            try
            {
                got[0] = shared.await(-1);
            }
            catch (final NativeException e)
            {
                throw new IllegalStateException(e);
            }
        });
        awaitBlockedInEpollWait("epoll-waiter");

        shared.close();
        assertThat(LibC.isOpen(number)).as("still in use by the waiter").isTrue();
        a.signal();
        waiter.join();
        assertThat(got[0]).isEqualTo(1);
        assertThat(LibC.isOpen(number)).as("released by the last user").isFalse();
    }

    /**
     * Waits until the thread called {@code name} sleeps in the kernel's epoll wait ({@code /proc/self/task/N/wchan}).
     */
    static void awaitBlockedInEpollWait(final String name) throws Exception
    {
        final long end = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() - end < 0)
        {
            try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(
                java.nio.file.Path.of("/proc/self/task")))
            {
                for (final java.nio.file.Path task : tasks.toList())
                {
                    try
                    {
                        if (java.nio.file.Files.readString(task.resolve("comm")).strip().equals(name)
                            && java.nio.file.Files.readString(task.resolve("wchan")).contains("epoll_wait"))
                        {
                            return;
                        }
                    }
                    catch (final IOException gone)
                    {
                        // The task ended while listing.
                    }
                }
            }
            Thread.onSpinWait();
        }
        throw new AssertionError(name + " never blocked in epoll_wait");
    }
}
