package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A non-blocking byte stream this process owns: an accepted socket, or a terminal or pipe re-opened through
 * {@code /proc/self/fd} so that {@code O_NONBLOCK} is set on a file description of our own, never on one a parent
 * shell shares. Reads and writes go straight between the descriptor and native memory (guest memory) and allocate
 * nothing; they return {@code -errno} instead of throwing. One thread at a time.
 */
public final class StreamFd implements AutoCloseable
{
    private static final long FIONREAD = 0x541B;
    private static final MethodHandle SEND = Downcalls.of("send", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT);
    private static final MethodHandle IOCTL = Downcalls.ioctl();
    private static final MethodHandle SEND_PLAIN = Downcalls.plain("send", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG,
        JAVA_INT);
    private static final MethodHandle READ_PLAIN = Downcalls.plain("read", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
    private static final MethodHandle IOCTL_PLAIN = Downcalls.plainIoctl();

    private final int fd;
    private final boolean socket;
    /**
     * FIONREAD's answer. Freed with this by the GC: closing a shared arena at every close stops every thread of the
     * process for a handshake (a vsock device closes a socket per connection).
     */
    private final MemorySegment count = Arena.ofAuto().allocate(JAVA_INT);
    private boolean closed;

    private StreamFd(final int fd, final boolean socket)
    {
        this.fd = fd;
        this.socket = socket;
    }

    /**
     * Adopts a connected, non-blocking socket (writes use {@code send} with {@code MSG_NOSIGNAL}: a vanished peer is
     * {@code EPIPE}, never a signal).
     */
    public static StreamFd socket(final int fd)
    {
        return new StreamFd(fd, true);
    }

    /**
     * @return two connected AF_UNIX stream sockets, non-blocking and close-on-exec (an in-process byte pipe both ways,
     *     e.g. between two devices' workers).
     */
    public static StreamFd[] pair() throws NativeException
    {
        try (Arena a = Arena.ofConfined())
        {
            final MemorySegment fds = a.allocate(8, 4);
            LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, fds);
            return new StreamFd[] {socket(fds.get(JAVA_INT, 0)), socket(fds.get(JAVA_INT, 4))};
        }
    }

    /**
     * Accepts one pending connection on the listening socket {@code listenFd}, non-blocking and close-on-exec.
     *
     * @return the connection, or null when none is pending.
     * @throws NativeException for other failures (e.g. EMFILE); the listener stays usable.
     */
    static StreamFd accept(final int listenFd) throws NativeException
    {
        try
        {
            return socket(LibC.accept4(listenFd, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC));
        }
        catch (final NativeException e)
        {
            // A client that gave up before we accepted (ECONNABORTED) or a signal: nothing to accept now.
            if (e.errno() == Errno.EAGAIN || e.errno() == Errno.ECONNABORTED || e.errno() == Errno.EINTR)
            {
                return null;
            }
            throw e;
        }
    }

    /**
     * Opens {@code /proc/self/fd/<fd>} anew, non-blocking: a new file description of the same terminal or pipe.
     *
     * @throws NativeException when it cannot be re-opened (e.g. a socket: ENXIO).
     */
    public static StreamFd reopen(final int fd, final boolean forWriting) throws NativeException
    {
        final int flags = (forWriting ? LibC.O_WRONLY : LibC.O_RDONLY) | LibC.O_NONBLOCK | LibC.O_CLOEXEC;
        return new StreamFd(LibC.open("/proc/self/fd/" + fd, flags), false);
    }

    /**
     * @return the descriptor (for epoll).
     */
    public int fd()
    {
        return fd;
    }

    /**
     * @return bytes that can be read now without blocking ({@code FIONREAD}), or {@code -errno}.
     */
    public int readable()
    {
        try
        {
            // Without errno capture on the data path; a failure is asked again with it, for the errno.
            if ((int)IOCTL_PLAIN.invokeExact(fd, FIONREAD, count) >= 0)
            {
                return count.get(JAVA_INT, 0);
            }
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        final MemorySegment c = Downcalls.capture();
        try
        {
            final int r = (int)IOCTL.invokeExact(c, fd, FIONREAD, count);
            return r < 0 ? -Downcalls.errno(c) : count.get(JAVA_INT, 0);
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
    }

    /**
     * @return bytes read into {@code [address, address + length)} (0 at end of stream), or {@code -errno}
     *     ({@code -EAGAIN}: nothing to read now).
     */
    public long read(final long address, final long length)
    {
        try
        {
            final long n = (long)READ_PLAIN.invokeExact(fd, address, length);
            if (n >= 0)
            {
                return n;
            }
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        // Failed (usually EAGAIN): once more with errno captured; non-blocking, so it cannot hang.
        return LibC.readRaw(fd, address, length);
    }

    /**
     * @return bytes written from {@code [address, address + length)}, or {@code -errno} ({@code -EAGAIN}: full now).
     */
    public long write(final long address, final long length)
    {
        if (!socket)
        {
            return LibC.writeRaw(fd, address, length);
        }
        try
        {
            final long n = (long)SEND_PLAIN.invokeExact(fd, address, length, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
            if (n >= 0)
            {
                return n;
            }
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        // Failed (usually EAGAIN): once more with errno captured; nothing was sent by the failed call.
        final MemorySegment c = Downcalls.capture();
        try
        {
            while (true)
            {
                final long n = (long)SEND.invokeExact(c, fd, address, length, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = Downcalls.errno(c);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
    }

    /**
     * Ends this side's output ({@code SHUT_WR}): the peer reads end of stream once it has read what was sent. Our own
     * socket only; errors (the peer left) are ignored.
     */
    public void shutdownOutput()
    {
        if (socket)
        {
            LibC.shutdownQuietly(fd, LibC.SHUT_WR);
        }
    }

    @Override
    public synchronized void close()
    {
        if (!closed)
        {
            closed = true;
            LibC.closeQuietly(fd);
        }
    }
}
