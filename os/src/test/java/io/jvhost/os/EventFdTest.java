package io.jvhost.os;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

class EventFdTest
{
    @Test
    void drainReturnsTheSumOfSignalsAndResetsTheCounter() throws NativeException
    {
        try (EventFd e = EventFd.create())
        {
            assertThat(e.signal()).isTrue();
            assertThat(e.signal()).isTrue();
            assertThat(e.signal()).isTrue();

            assertThat(e.drain()).isEqualTo(3);
            assertThat(e.drain()).isZero();
        }
    }

    @Test
    @Timeout(10)
    void drainOfEmptyCounterReturnsZeroWithoutBlocking() throws NativeException
    {
        try (EventFd e = EventFd.create())
        {
            for (int i = 0; i < 1000; i++)
            {
                assertThat(e.drain()).isZero();
            }
        }
    }

    @Test
    void createdDescriptorIsNonBlockingAndCloseOnExec() throws NativeException
    {
        try (EventFd e = EventFd.create())
        {
            assertThat(OpenFds.isCloseOnExec(e.fd())).isTrue();
            assertThat(LibC.fcntl(e.fd(), LibC.F_GETFL, 0) & LibC.O_NONBLOCK).isNotZero();
            assertThat(e).hasToString("EventFd[fd=" + e.fd() + "]");
        }
    }

    @Test
    @Timeout(60)
    void concurrentSignalsFromSeveralThreadsAllCount() throws Exception
    {
        final int threads = 4;
        final int perThread = 10_000;
        try (EventFd e = EventFd.create())
        {
            final CountDownLatch start = new CountDownLatch(1);
            final List<Thread> signallers = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                signallers.add(Thread.ofPlatform().start(() ->
                {
                    try
                    {
                        start.await();
                    }
                    catch (final InterruptedException ex)
                    {
                        throw new AssertionError(ex);
                    }
                    for (int i = 0; i < perThread; i++)
                    {
                        e.signal();
                    }
                }));
            }
            start.countDown();
            long total = 0;
            for (final Thread t : signallers)
            {
                // Drain while they run, too: no signal may be lost between a read and a write.
                while (t.isAlive())
                {
                    total += e.drain();
                }
                t.join();
            }
            total += e.drain();

            assertThat(total).isEqualTo((long)threads * perThread);
        }
    }

    @Test
    void closeIsIdempotent() throws NativeException
    {
        final EventFd e = EventFd.create();
        final int fd = e.fd();
        e.close();
        assertThat(LibC.isOpen(fd)).isFalse();
        e.close();
    }

    @Test
    void signalAndDrainAfterCloseDoNotTouchADescriptorThatReusedTheNumber() throws NativeException
    {
        final EventFd closed = EventFd.create();
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

    /**
     * A duplicate of {@code fd} made with {@code fcntl(F_DUPFD_CLOEXEC)}.
     */
    static int dup(final int fd) throws NativeException
    {
        return LibC.fcntl(fd, 1030, 0);
    }
}
