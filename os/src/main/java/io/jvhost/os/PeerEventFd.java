package io.jvhost.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An eventfd a peer sent us (a vring's kick, call or err descriptor), used without ever blocking on it and without
 * touching its flags.
 * <p>
 * The peer shares the open file description, so {@code O_NONBLOCK} is the peer's to set and clear: we neither change
 * it (a front-end that blocks reading its call eventfd must keep doing so) nor rely on it. Nothing here is a critical
 * downcall, so even a call that blocks lets the JVM reach its safepoints and exit.
 * <ul>
 * <li>{@link #drain} reads with {@code preadv2(RWF_NOWAIT)}, which fails with EAGAIN instead of waiting whatever the
 * flags say: a peer cannot make it block.</li>
 * <li>{@link #signal} writes only when {@code poll} reports the counter writable (eventfds do not support
 * {@code RWF_NOWAIT} writes). A saturated counter (0xfffffffffffffffe, which the peer can write) is not
 * writable and already readable, so the signal is skipped and the peer still sees a notification. A peer that
 * saturates the counter between our poll and our write on a descriptor whose {@code O_NONBLOCK} it cleared blocks
 * the signalling thread (only that ring's worker) until it reads the counter; it has to win that race on purpose, and
 * the blocked call is a normal downcall.</li>
 * </ul>
 * {@link #adopt} accepts only a plain eventfd: anything else (a socket, a pipe, a file) would make these calls mean
 * something else, and a semaphore-mode eventfd would let a single write of a huge count wake the reader forever.
 */
public final class PeerEventFd implements AutoCloseable
{
    private static final String EVENTFD_LINK = "anon_inode:[eventfd]";
    private static final long IOV = 0;
    private static final long POLLFD = 16;
    private static final long VALUE = 24;

    private final int fd;
    private volatile boolean closed;
    /** Errno of the last drain that failed for another reason than an empty counter, or 0. */
    private volatile int drainError;
    /** Per thread: an iovec pointing at VALUE, a pollfd for this descriptor and the 8-byte value. */
    private final ThreadLocal<MemorySegment> scratch;

    private PeerEventFd(final int fd)
    {
        this.fd = fd;
        this.scratch = ThreadLocal.withInitial(() ->
        {
            final MemorySegment s = Arena.ofAuto().allocate(32, 8);
            s.set(ValueLayout.JAVA_LONG, IOV, s.address() + VALUE);
            s.set(ValueLayout.JAVA_LONG, IOV + 8, 8L);
            s.set(ValueLayout.JAVA_INT, POLLFD, fd);
            return s;
        });
    }

    /**
     * Takes ownership of {@code fd} if it is a plain (not semaphore-mode) eventfd.
     *
     * @throws IllegalArgumentException naming the descriptor and what it is otherwise; {@code fd} is then still the
     *                                  caller's.
     */
    public static PeerEventFd adopt(final int fd)
    {
        final String what;
        try
        {
            what = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            throw new IllegalArgumentException("fd " + fd + " cannot be inspected: " + e);
        }
        if (!EVENTFD_LINK.equals(what))
        {
            throw new IllegalArgumentException("fd " + fd + " is not an eventfd but " + what);
        }
        final boolean semaphore;
        try
        {
            // "eventfd-semaphore:" is listed since Linux 6.3; before, semaphore mode cannot be told and is accepted.
            semaphore = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).stream()
                .anyMatch(line -> line.startsWith("eventfd-semaphore:")
                    && !"0".equals(line.substring("eventfd-semaphore:".length()).strip()));
        }
        catch (final IOException e)
        {
            throw new IllegalArgumentException("fd " + fd + " cannot be inspected: " + e);
        }
        if (semaphore)
        {
            throw new IllegalArgumentException("fd " + fd + " is a semaphore-mode eventfd (EFD_SEMAPHORE)");
        }
        return new PeerEventFd(fd);
    }

    /**
     * @return the descriptor.
     */
    public int fd()
    {
        return fd;
    }

    /**
     * Adds 1 to the counter unless that could block.
     *
     * @return true when written; false when the counter was saturated, the write failed, or this is closed.
     */
    public boolean signal()
    {
        if (closed)
        {
            // The number may already belong to another descriptor: never write to it.
            return false;
        }
        final MemorySegment s = scratch.get();
        s.set(ValueLayout.JAVA_SHORT, POLLFD + 4, LibC.POLLOUT);
        s.set(ValueLayout.JAVA_SHORT, POLLFD + 6, (short)0);
        if (LibC.pollNoErrno(s.address() + POLLFD, 1, 0) != 1
            || (s.get(ValueLayout.JAVA_SHORT, POLLFD + 6) & LibC.POLLOUT) == 0)
        {
            return false;
        }
        s.set(ValueLayout.JAVA_LONG, VALUE, 1L);
        return LibC.writeNoErrno(fd, s.address() + VALUE, 8) == 8;
    }

    /**
     * Reads and resets the counter without waiting.
     *
     * @return the counter (as unsigned), or 0 when it was zero, the read failed ({@link #drainError}) or this is
     *     closed.
     */
    public long drain()
    {
        if (closed)
        {
            return 0L;
        }
        final MemorySegment s = scratch.get();
        if (LibC.preadv2NoErrno(fd, s.address() + IOV, 1, LibC.RWF_NOWAIT) == 8)
        {
            return s.get(ValueLayout.JAVA_LONG, VALUE);
        }
        // Rare (a wake-up for a counter someone else read): read again, now learning why it fails. Harmless: a read
        // that fails consumes nothing, and one that now succeeds is a signal like any other.
        final long n = LibC.preadv2Raw(fd, s.address() + IOV, 1, LibC.RWF_NOWAIT);
        if (n == 8)
        {
            return s.get(ValueLayout.JAVA_LONG, VALUE);
        }
        if (n != -Errno.EAGAIN && n != -Errno.EINTR)
        {
            drainError = n < 0 ? (int)-n : Errno.EIO;
        }
        return 0L;
    }

    /**
     * @return the errno of the last {@link #drain} that failed other than for an empty counter (e.g. a kernel without
     *     {@code RWF_NOWAIT} reads on eventfds, before 5.12: EOPNOTSUPP), or 0.
     */
    public int drainError()
    {
        return drainError;
    }

    /**
     * Closes the descriptor. Idempotent.
     */
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
        return "PeerEventFd[fd=" + fd + "]";
    }
}
