package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A Linux eventfd we created: an 8-byte counter used for virtqueue kick and call notifications. Writes add to the
 * counter, a read returns it and resets it to zero. Thread-safe.
 * <p>
 * Created non-blocking, and only we hold its flags, so {@link #signal} and {@link #drain} are critical downcalls
 * (no thread-state transition). An eventfd a peer sent is a {@link PeerEventFd}: its flags are the peer's.
 */
public final class EventFd implements AutoCloseable
{
    private final int fd;
    private volatile boolean closed;
    private final ThreadLocal<MemorySegment> scratch =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ValueLayout.JAVA_LONG));

    private EventFd(final int fd)
    {
        this.fd = fd;
    }

    /**
     * Creates a non-blocking, close-on-exec eventfd with counter 0.
     */
    public static EventFd create() throws NativeException
    {
        return new EventFd(LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC));
    }

    /**
     * @return the descriptor.
     */
    public int fd()
    {
        return fd;
    }

    /**
     * Adds 1 to the counter, waking any reader. Returns false if the write failed (the counter is saturated) or this
     * eventfd is closed.
     */
    public boolean signal()
    {
        if (closed)
        {
            // The number may already belong to another descriptor: never write to it.
            return false;
        }
        return LibC.eventfdWrite(fd, 1L);
    }

    /**
     * Reads and resets the counter without blocking.
     *
     * @return the counter value, or 0 when it was already zero (EAGAIN) or this eventfd is closed.
     */
    public long drain()
    {
        if (closed)
        {
            return 0L;
        }
        final MemorySegment value = scratch.get();
        return LibC.eventfdRead(fd, value.address()) ? value.get(ValueLayout.JAVA_LONG, 0) : 0L;
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            LibC.closeQuietly(fd);
        }
    }

    @Override
    public String toString()
    {
        return "EventFd[fd=" + fd + "]";
    }
}
