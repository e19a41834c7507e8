package io.jvhost.os;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An AF_UNIX stream socket that can pass file descriptors ({@code SCM_RIGHTS}), which {@code java.nio} cannot.
 * <p>
 * Sends and receives each use preallocated {@code msghdr}/{@code iovec}/control buffers, so steady-state messaging
 * allocates nothing. One thread may send while another receives.
 * <pre>
 * struct msghdr (56 bytes)                       struct cmsghdr + SCM_RIGHTS payload
 *  0 msg_name      8 msg_namelen (u32 + pad)      0 u64 cmsg_len   8 i32 level (SOL_SOCKET)
 * 16 msg_iov      24 msg_iovlen                  12 i32 type (SCM_RIGHTS)   16 int fds[n]
 * 32 msg_control  40 msg_controllen
 * 48 msg_flags (i32 + pad)
 * </pre>
 */
public final class UnixSocket implements AutoCloseable
{
    static final int SOCKADDR_UN_SIZE = 110;
    private static final int MAX_PATH = 107;
    private static final long CMSG_HEADER = 16;
    /** Room for 32 fds in one cmsg, and for a second cmsg a sender may add: the kernel closes what does not fit. */
    private static final int CONTROL_SIZE = 512;
    private static final long FIONREAD = 0x541B;

    private final int fd;
    private final Path boundPath;
    private final Arena arena = Arena.ofShared();
    private final Object sendLock = new Object();
    private final Object receiveLock = new Object();
    private final MemorySegment sendMsg;
    private final MemorySegment sendIov;
    private final MemorySegment sendControl;
    private final MemorySegment recvMsg;
    private final MemorySegment recvIov;
    private final MemorySegment recvControl;
    private volatile boolean closed;

    private UnixSocket(final int fd, final Path boundPath)
    {
        this.fd = fd;
        this.boundPath = boundPath;
        sendMsg = arena.allocate(56, 8);
        sendIov = arena.allocate(16, 8);
        sendControl = arena.allocate(CONTROL_SIZE, 8);
        recvMsg = arena.allocate(56, 8);
        recvIov = arena.allocate(16, 8);
        recvControl = arena.allocate(CONTROL_SIZE, 8);
    }

    static MemorySegment sockaddr(final Arena arena, final Path path)
    {
        final byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_PATH)
        {
            throw new IllegalArgumentException("socket path longer than " + MAX_PATH + " bytes: " + path);
        }
        final MemorySegment addr = arena.allocate(SOCKADDR_UN_SIZE, 8);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short)LibC.AF_UNIX);
        MemorySegment.copy(bytes, 0, addr, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return addr;
    }

    /**
     * Binds and listens on {@code path}. A stale socket file left at the path is removed first; any other kind of
     * file there is refused.
     */
    public static UnixSocket listen(final Path path, final int backlog) throws IOException
    {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS))
        {
            if (!"socket".equals(fileType(path)))
            {
                throw new IOException("refusing to replace " + path + ": it exists and is not a socket");
            }
            LibC.unlinkIfExists(path.toString());
        }
        final int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined())
        {
            LibC.bind(fd, sockaddr(arena, path), SOCKADDR_UN_SIZE, "path=" + path);
            LibC.listen(fd, backlog);
            return new UnixSocket(fd, path);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    static String fileType(final Path path)
    {
        try
        {
            final Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return ((Integer)mode & LibC.S_IFMT) == LibC.S_IFSOCK ? "socket" : "other";
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            return "unknown";
        }
    }

    /**
     * Connects to a listening socket at {@code path}.
     */
    public static UnixSocket connect(final Path path) throws IOException
    {
        final int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined())
        {
            LibC.connect(fd, sockaddr(arena, path), SOCKADDR_UN_SIZE, "path=" + path);
            return new UnixSocket(fd, null);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * @return two connected sockets.
     */
    public static UnixSocket[] pair() throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(8, 4);
            LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds);
            return new UnixSocket[] {
                new UnixSocket(fds.get(ValueLayout.JAVA_INT, 0), null),
                new UnixSocket(fds.get(ValueLayout.JAVA_INT, 4), null)};
        }
    }

    /**
     * Wraps an inherited or received descriptor (e.g. {@code --fd}); this object then owns it.
     */
    public static UnixSocket adopt(final int fd)
    {
        return new UnixSocket(fd, null);
    }

    /**
     * @return the descriptor.
     */
    public int fd()
    {
        return fd;
    }

    /**
     * @return the path this socket listens on, or null.
     */
    public Path boundPath()
    {
        return boundPath;
    }

    /**
     * Blocks until a peer connects.
     */
    public UnixSocket accept() throws NativeException
    {
        while (true)
        {
            try
            {
                return new UnixSocket(LibC.accept4(fd, LibC.SOCK_CLOEXEC), null);
            }
            catch (final NativeException e)
            {
                if (e.errno() != Errno.EINTR)
                {
                    throw e;
                }
            }
        }
    }

    /**
     * Bounds how long a receive may block (SO_RCVTIMEO); 0 means forever.
     */
    public void setReceiveTimeout(final long millis) throws NativeException
    {
        setTimeout(LibC.SO_RCVTIMEO, millis);
    }

    /**
     * Bounds how long a send may block (SO_SNDTIMEO); 0 means forever.
     */
    public void setSendTimeout(final long millis) throws NativeException
    {
        setTimeout(LibC.SO_SNDTIMEO, millis);
    }

    /**
     * Asks for a send buffer of {@code bytes} (SO_SNDBUF; the kernel doubles it for its bookkeeping and caps the
     * request at {@code net.core.wmem_max}).
     */
    public void setSendBufferSize(final int bytes) throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment value = arena.allocate(4, 4);
            value.set(ValueLayout.JAVA_INT, 0, bytes);
            LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, value);
        }
    }

    /**
     * @return bytes received and not yet read ({@code FIONREAD}).
     */
    public int unread() throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment count = arena.allocate(4, 4);
            LibC.ioctl(fd, FIONREAD, count);
            return count.get(ValueLayout.JAVA_INT, 0);
        }
    }

    private void setTimeout(final int option, final long millis) throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(ValueLayout.JAVA_LONG, 0, millis / 1000);
            timeval.set(ValueLayout.JAVA_LONG, 8, (millis % 1000) * 1000);
            LibC.setsockopt(fd, LibC.SOL_SOCKET, option, timeval);
        }
    }

    /**
     * Sends {@code length} bytes of {@code data} from {@code offset}, with {@code fdCount} descriptors from
     * {@code fds} attached to the first byte. Blocks until all bytes are written.
     *
     * @throws NativeException with EPIPE/ECONNRESET when the peer has gone.
     * @throws IllegalArgumentException if descriptors come without data (a stream socket would drop them silently)
     *                                  or {@code data} is not a native segment.
     * @throws IndexOutOfBoundsException if the range is not inside {@code data}.
     */
    public void send(final MemorySegment data, final long offset, final long length, final int[] fds,
        final int fdCount) throws NativeException
    {
        if (fdCount > FdList.MAX_FDS)
        {
            throw new IllegalArgumentException("too many fds for one message: " + fdCount);
        }
        if (fdCount > 0 && length == 0)
        {
            throw new IllegalArgumentException("cannot send " + fdCount + " fds without data");
        }
        checkBuffer(data, offset, length);
        synchronized (sendLock)
        {
            long sent = 0;
            boolean first = true;
            while (sent < length || first)
            {
                sendIov.set(ValueLayout.JAVA_LONG, 0, data.address() + offset + sent);
                sendIov.set(ValueLayout.JAVA_LONG, 8, length - sent);
                sendMsg.fill((byte)0);
                sendMsg.set(ValueLayout.JAVA_LONG, 16, sendIov.address());
                sendMsg.set(ValueLayout.JAVA_LONG, 24, 1L);
                if (first && fdCount > 0)
                {
                    final long cmsgLen = CMSG_HEADER + 4L * fdCount;
                    sendControl.set(ValueLayout.JAVA_LONG, 0, cmsgLen);
                    sendControl.set(ValueLayout.JAVA_INT, 8, LibC.SOL_SOCKET);
                    sendControl.set(ValueLayout.JAVA_INT, 12, LibC.SCM_RIGHTS);
                    for (int i = 0; i < fdCount; i++)
                    {
                        sendControl.set(ValueLayout.JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
                    }
                    sendMsg.set(ValueLayout.JAVA_LONG, 32, sendControl.address());
                    sendMsg.set(ValueLayout.JAVA_LONG, 40, (cmsgLen + 7) & ~7L);
                }
                final long n = LibC.sendmsgRaw(fd, sendMsg, LibC.MSG_NOSIGNAL);
                if (n < 0)
                {
                    if (-n == Errno.EINTR)
                    {
                        continue;
                    }
                    throw new NativeException("sendmsg", (int)-n, "fd=" + fd + ", length=" + (length - sent));
                }
                sent += n;
                first = false;
                if (length == 0)
                {
                    break;
                }
            }
        }
    }

    /**
     * One {@code recvmsg}: reads up to {@code length} bytes into {@code buf} at {@code offset}, and appends any
     * descriptors that came with them to {@code fds} (close-on-exec; excess or truncated ones closed).
     *
     * @return bytes read, 0 when the peer closed the connection.
     * @throws NativeException on error; EAGAIN when a receive timeout expired.
     * @throws IndexOutOfBoundsException if the range is not inside {@code buf}.
     */
    public long receive(final MemorySegment buf, final long offset, final long length, final FdList fds)
        throws NativeException
    {
        return receive(buf, offset, length, fds, 0);
    }

    /** {@link #receiveNow}: nothing to read yet. */
    public static final long WOULD_BLOCK = -1;

    /**
     * Like {@link #receive} but never waits (MSG_DONTWAIT), for a reader woken by epoll.
     *
     * @return bytes read, 0 when the peer closed the connection, {@link #WOULD_BLOCK} when nothing is there.
     */
    public long receiveNow(final MemorySegment buf, final long offset, final long length, final FdList fds)
        throws NativeException
    {
        return receive(buf, offset, length, fds, LibC.MSG_DONTWAIT);
    }

    private long receive(final MemorySegment buf, final long offset, final long length, final FdList fds,
        final int flags) throws NativeException
    {
        checkBuffer(buf, offset, length);
        synchronized (receiveLock)
        {
            while (true)
            {
                recvIov.set(ValueLayout.JAVA_LONG, 0, buf.address() + offset);
                recvIov.set(ValueLayout.JAVA_LONG, 8, length);
                recvMsg.fill((byte)0);
                recvMsg.set(ValueLayout.JAVA_LONG, 16, recvIov.address());
                recvMsg.set(ValueLayout.JAVA_LONG, 24, 1L);
                recvMsg.set(ValueLayout.JAVA_LONG, 32, recvControl.address());
                recvMsg.set(ValueLayout.JAVA_LONG, 40, (long)CONTROL_SIZE);
                final long n = LibC.recvmsgRaw(fd, recvMsg, LibC.MSG_CMSG_CLOEXEC | flags);
                if (n < 0)
                {
                    if (-n == Errno.EINTR)
                    {
                        continue;
                    }
                    if (-n == Errno.EAGAIN && flags != 0)
                    {
                        return WOULD_BLOCK;
                    }
                    throw new NativeException("recvmsg", (int)-n, "fd=" + fd);
                }
                collectFds(fds);
                return n;
            }
        }
    }

    /**
     * The kernel is handed raw addresses, which the FFM bounds and liveness checks cannot see: check them here so a
     * wrong length or a freed buffer is an exception, not a corrupted heap.
     */
    private static void checkBuffer(final MemorySegment buffer, final long offset, final long length)
    {
        Objects.checkFromIndexSize(offset, length, buffer.byteSize());
        if (!buffer.isNative())
        {
            throw new IllegalArgumentException("not a native segment: " + buffer);
        }
        if (!buffer.scope().isAlive())
        {
            throw new IllegalStateException("buffer already freed: " + buffer);
        }
    }

    private void collectFds(final FdList fds)
    {
        final long controlLen = recvMsg.get(ValueLayout.JAVA_LONG, 40);
        final int flags = recvMsg.get(ValueLayout.JAVA_INT, 48);
        long pos = 0;
        while (pos + CMSG_HEADER <= controlLen)
        {
            final long cmsgLen = recvControl.get(ValueLayout.JAVA_LONG, pos);
            if (cmsgLen < CMSG_HEADER || pos + cmsgLen > controlLen)
            {
                break;
            }
            final int level = recvControl.get(ValueLayout.JAVA_INT, pos + 8);
            final int type = recvControl.get(ValueLayout.JAVA_INT, pos + 12);
            if (level == LibC.SOL_SOCKET && type == LibC.SCM_RIGHTS)
            {
                final long count = (cmsgLen - CMSG_HEADER) / 4;
                for (long i = 0; i < count; i++)
                {
                    fds.add(recvControl.get(ValueLayout.JAVA_INT, pos + CMSG_HEADER + 4 * i));
                }
            }
            pos += (cmsgLen + 7) & ~7L;
        }
        if ((flags & LibC.MSG_CTRUNC) != 0)
        {
            fds.markTruncated();
        }
    }

    /**
     * Receives exactly {@code length} bytes, collecting descriptors from every part.
     *
     * @return false if the peer closed the connection before the first byte.
     * @throws EOFException if it closed part way.
     */
    public boolean receiveFully(final MemorySegment buf, final long offset, final long length, final FdList fds)
        throws IOException
    {
        long got = 0;
        while (got < length)
        {
            final long n = receive(buf, offset + got, length - got, fds);
            if (n == 0)
            {
                if (got == 0)
                {
                    return false;
                }
                throw new EOFException("peer closed the socket after " + got + " of " + length + " bytes");
            }
            got += n;
        }
        return true;
    }

    /**
     * Wakes threads blocked on this socket (they see end of stream or an error) without releasing the descriptor.
     */
    public void shutdown()
    {
        if (!closed)
        {
            LibC.shutdownQuietly(fd);
        }
    }

    /**
     * @return true once {@link #close()} ran.
     */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * Closes the descriptor and removes the socket file if this socket created it. Idempotent.
     */
    @Override
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        LibC.shutdownQuietly(fd);
        // Take both locks so no thread is inside sendmsg/recvmsg with our buffers when the arena goes away.
        synchronized (sendLock)
        {
            synchronized (receiveLock)
            {
                LibC.closeQuietly(fd);
                arena.close();
            }
        }
        if (null != boundPath)
        {
            try
            {
                LibC.unlinkIfExists(boundPath.toString());
            }
            catch (final NativeException ignored)
            {
                // The file may belong to a newer listener by now; nothing to do.
            }
        }
    }

    @Override
    public String toString()
    {
        return "UnixSocket[fd=" + fd + (null == boundPath ? "" : ", path=" + boundPath) + "]";
    }
}
