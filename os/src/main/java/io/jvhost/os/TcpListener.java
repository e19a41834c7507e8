package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A non-blocking TCP listening socket on 127.0.0.1 (loopback only: whoever connects reads and types into a guest).
 * <pre>
 * struct sockaddr_in (16 bytes)
 *  0          2              4                    8                  16
 *  +----------+--------------+--------------------+------------------+
 *  | family=2 | port (BE u16)| addr (BE u32)      | zero             |
 *  +----------+--------------+--------------------+------------------+
 * </pre>
 */
public final class TcpListener implements AutoCloseable
{
    private static final int AF_INET = 2;
    private static final int SO_REUSEADDR = 2;
    private static final int SOCKADDR_IN_SIZE = 16;
    private static final int LOOPBACK = 0x7F00_0001;
    private static final MethodHandle GETSOCKNAME = Downcalls.of("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);

    private final int fd;
    private final int port;
    private boolean closed;

    private TcpListener(final int fd, final int port)
    {
        this.fd = fd;
        this.port = port;
    }

    /**
     * Listens on 127.0.0.1:{@code port} ({@code SO_REUSEADDR}, so a restarted back-end gets its port back at once).
     *
     * @param port 0..65535; 0 lets the kernel choose (see {@link #port()}).
     * @throws NativeException naming the port, e.g. {@code EADDRINUSE}.
     */
    public static TcpListener loopback(final int port) throws NativeException
    {
        if (port < 0 || port > 0xFFFF)
        {
            throw new IllegalArgumentException("TCP port must be 0..65535, got " + port);
        }
        final int fd = LibC.socket(AF_INET, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment one = arena.allocate(JAVA_INT);
            one.set(JAVA_INT, 0, 1);
            LibC.setsockopt(fd, LibC.SOL_SOCKET, SO_REUSEADDR, one);
            final MemorySegment addr = arena.allocate(SOCKADDR_IN_SIZE, 4);
            addr.set(JAVA_SHORT, 0, (short)AF_INET);
            addr.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short)port);
            addr.set(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), 4, LOOPBACK);
            LibC.bind(fd, addr, SOCKADDR_IN_SIZE, "127.0.0.1:" + port);
            LibC.listen(fd, 4);
            return new TcpListener(fd, boundPort(fd, arena));
        }
        catch (final NativeException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    private static int boundPort(final int fd, final Arena arena) throws NativeException
    {
        final MemorySegment addr = arena.allocate(SOCKADDR_IN_SIZE, 4);
        final MemorySegment length = arena.allocate(JAVA_INT);
        length.set(JAVA_INT, 0, SOCKADDR_IN_SIZE);
        final MemorySegment c = Downcalls.capture();
        final int r;
        try
        {
            r = (int)GETSOCKNAME.invokeExact(c, fd, addr, length);
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        if (r < 0)
        {
            throw new NativeException("getsockname", Downcalls.errno(c), "fd=" + fd);
        }
        return Short.toUnsignedInt(addr.get(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2));
    }

    /**
     * @return the port listened on (the kernel's choice when 0 was asked for).
     */
    public int port()
    {
        return port;
    }

    /**
     * @return the listening descriptor (for epoll).
     */
    public int fd()
    {
        return fd;
    }

    /**
     * Accepts one pending connection, non-blocking and close-on-exec.
     *
     * @return the connection, or null when none is pending.
     * @throws NativeException for other failures (e.g. EMFILE); the listener stays usable.
     */
    public StreamFd accept() throws NativeException
    {
        return StreamFd.accept(fd);
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
