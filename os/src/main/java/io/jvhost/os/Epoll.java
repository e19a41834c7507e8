package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An epoll instance with a preallocated event array, so waiting allocates nothing.
 * <p>
 * Registration ({@link #add}, {@link #modify}, {@link #remove}) is thread-safe; {@link #await} and the event
 * accessors are for the single thread that owns the loop.
 * <p>
 * Every call on the descriptor after {@link #close()} throws {@link IllegalStateException}: its number may already
 * belong to another file (another worker's epoll, a socket), which a late {@code epoll_ctl} or {@code epoll_wait}
 * would act on. A close while another thread is inside a call releases the descriptor when that call returns.
 * <pre>
 * struct epoll_event on x86-64 (packed, 12 bytes)     on aarch64 (16 bytes)
 *  0               4                        12         0        4    8                 16
 *  +---------------+------------------------+          +--------+----+-----------------+
 *  | u32 events    | u64 data (our token)   |          | events |pad | u64 data        |
 *  +---------------+------------------------+          +--------+----+-----------------+
 * </pre>
 */
public final class Epoll implements AutoCloseable
{
    private static final int EVENT_SIZE = LibC.X86_64 ? 12 : 16;
    private static final int DATA_OFFSET = LibC.X86_64 ? 4 : 8;
    private static final ValueLayout.OfLong DATA = ValueLayout.JAVA_LONG_UNALIGNED;

    private final int epfd;
    private final MemorySegment events;
    private final int maxEvents;
    private final ThreadLocal<MemorySegment> ctlEvent;
    /** Calls in progress, plus {@link #CLOSED} once {@link #close()} ran; the last one out releases the descriptor. */
    private final AtomicInteger users = new AtomicInteger();
    private static final int CLOSED = 1 << 30;

    private Epoll(final int epfd, final int maxEvents)
    {
        this.epfd = epfd;
        this.maxEvents = maxEvents;
        // Freed with this by the GC: closing a shared arena stops every thread of the process for a handshake.
        this.events = Arena.ofAuto().allocate((long)EVENT_SIZE * maxEvents, 8);
        this.ctlEvent = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));
    }

    /**
     * @param maxEvents how many events one {@link #await} can return.
     */
    public static Epoll create(final int maxEvents) throws NativeException
    {
        return new Epoll(LibC.epollCreate1(LibC.EPOLL_CLOEXEC), maxEvents);
    }

    private MemorySegment event(final int mask, final long token)
    {
        final MemorySegment e = ctlEvent.get();
        e.set(ValueLayout.JAVA_INT, 0, mask);
        e.set(DATA, DATA_OFFSET, token);
        return e;
    }

    /**
     * Watches {@code fd} for {@code mask} (e.g. {@link LibC#EPOLLIN}); ready events carry {@code token}.
     */
    public void add(final int fd, final int mask, final long token) throws NativeException
    {
        enter();
        try
        {
            LibC.epollCtl(epfd, LibC.EPOLL_CTL_ADD, fd, event(mask, token));
        }
        finally
        {
            exit();
        }
    }

    /**
     * Changes the mask or token of a watched descriptor.
     */
    public void modify(final int fd, final int mask, final long token) throws NativeException
    {
        enter();
        try
        {
            LibC.epollCtl(epfd, LibC.EPOLL_CTL_MOD, fd, event(mask, token));
        }
        finally
        {
            exit();
        }
    }

    /**
     * Stops watching {@code fd}; a descriptor that is not watched (ENOENT) or already closed (EBADF) is ignored.
     */
    public void remove(final int fd)
    {
        enter();
        try
        {
            LibC.epollCtl(epfd, LibC.EPOLL_CTL_DEL, fd, event(0, 0));
        }
        catch (final NativeException e)
        {
            if (e.errno() != Errno.ENOENT && e.errno() != Errno.EBADF)
            {
                throw new IllegalStateException(e);
            }
        }
        finally
        {
            exit();
        }
    }

    /**
     * Waits for events.
     *
     * @param timeoutMs -1 to wait forever, 0 to poll.
     * @return the number of ready events (0 on timeout or signal).
     */
    public int await(final int timeoutMs) throws NativeException
    {
        enter();
        try
        {
            return LibC.epollWait(epfd, events, maxEvents, timeoutMs);
        }
        finally
        {
            exit();
        }
    }

    private void enter()
    {
        while (true)
        {
            final int now = users.get();
            if ((now & CLOSED) != 0)
            {
                throw new IllegalStateException("epoll fd " + epfd + " is closed");
            }
            if (users.compareAndSet(now, now + 1))
            {
                return;
            }
        }
    }

    private void exit()
    {
        if (users.decrementAndGet() == CLOSED)
        {
            release();
        }
    }

    /**
     * @return the token of ready event {@code i}.
     */
    public long token(final int i)
    {
        return events.get(DATA, (long)i * EVENT_SIZE + DATA_OFFSET);
    }

    /**
     * @return the ready mask of event {@code i}.
     */
    public int readyMask(final int i)
    {
        return events.get(ValueLayout.JAVA_INT_UNALIGNED, (long)i * EVENT_SIZE);
    }

    /**
     * @return the epoll descriptor.
     */
    public int fd()
    {
        return epfd;
    }

    /**
     * Closes the epoll now, or when the call another thread is in returns. Idempotent.
     */
    @Override
    public void close()
    {
        while (true)
        {
            final int now = users.get();
            if ((now & CLOSED) != 0)
            {
                return;
            }
            if (users.compareAndSet(now, now | CLOSED))
            {
                if (now == 0)
                {
                    release();
                }
                return;
            }
        }
    }

    private void release()
    {
        LibC.closeQuietly(epfd);
    }
}
