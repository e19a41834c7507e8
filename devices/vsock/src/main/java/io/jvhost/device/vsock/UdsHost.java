package io.jvhost.device.vsock;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Epoll;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.StreamFd;
import io.jvhost.os.UnixStreamListener;

/**
 * The host side of hybrid vsock: the listener at {@code --uds-path} where host programs ask for a guest port with
 * {@code CONNECT <port>\n}, the connects to {@code <uds-path>_<port>} for the guest's connections, and one epoll over
 * all of them that the device's worker watches. Non-blocking throughout; every method but {@link #close()} runs on
 * the worker.
 * <p>
 * A host client's request line is read one byte at a time, so nothing it sends after the newline is taken from the
 * socket before the guest accepted; at most {@link #MAX_PENDING} clients may be mid-request (more are refused), and a
 * line is at most {@link #MAX_LINE} bytes.
 */
public final class UdsHost implements AutoCloseable
{
    /** What the host side reports to the device. */
    public interface Events
    {
        /** A host client asked for guest port {@code port}; the device now owns {@code client}. */
        void hostRequest(int port, StreamFd client);

        /** The socket of the connection in {@code slot} is ready ({@code mask}: epoll bits). */
        void connectionReady(int slot, int mask);
    }

    static final int MAX_PENDING = 16;
    static final int MAX_LINE = 32;
    private static final long TOKEN_PENDING = 1L << 32;
    private static final long TOKEN_LISTENER = 1L << 40;
    private static final System.Logger LOG = System.getLogger(UdsHost.class.getName());

    private final String name;
    private final Path udsPath;
    private final UnixStreamListener listener;
    private final Epoll epoll;
    private final StreamFd[] pending = new StreamFd[MAX_PENDING];
    private final byte[][] lines = new byte[MAX_PENDING][MAX_LINE];
    private final int[] lineLengths = new int[MAX_PENDING];
    /** Freed with this by the GC: closing a shared arena stops every thread of the process for a handshake. */
    private final MemorySegment oneByte = Arena.ofAuto().allocate(1);
    private long refused;

    private UdsHost(final String name, final Path udsPath, final UnixStreamListener listener, final Epoll epoll)
    {
        this.name = name;
        this.udsPath = udsPath;
        this.listener = listener;
        this.epoll = epoll;
    }

    /**
     * Listens on {@code udsPath} (a stale socket file there is replaced).
     *
     * @param maxConnections sizes the epoll batch.
     */
    public static UdsHost listen(final String name, final Path udsPath, final int maxConnections) throws IOException
    {
        final UnixStreamListener listener = UnixStreamListener.listen(udsPath, 64);
        try
        {
            final Epoll epoll = Epoll.create(Math.min(256, maxConnections + MAX_PENDING + 1));
            try
            {
                epoll.add(listener.fd(), LibC.EPOLLIN, TOKEN_LISTENER);
            }
            catch (final NativeException e)
            {
                epoll.close();
                throw e;
            }
            LOG.log(Level.INFO, name + ": host side on " + udsPath + " (guest ports at " + udsPath + "_<port>)");
            return new UdsHost(name, udsPath, listener, epoll);
        }
        catch (final IOException | RuntimeException e)
        {
            listener.close();
            throw e;
        }
    }

    public Path udsPath()
    {
        return udsPath;
    }

    int pollFd()
    {
        return epoll.fd();
    }

    /**
     * Connects to the host program listening for guest port {@code port}.
     *
     * @throws NativeException with the path and errno (ENOENT, ECONNREFUSED: nobody listens).
     */
    StreamFd connectToPort(final int port) throws NativeException
    {
        return UnixStreamListener.connect(udsPath.resolveSibling(udsPath.getFileName() + "_"
            + Integer.toUnsignedString(port)));
    }

    void watch(final StreamFd socket, final int slot, final int mask) throws NativeException
    {
        epoll.add(socket.fd(), mask, slot);
    }

    void modify(final StreamFd socket, final int slot, final int mask) throws NativeException
    {
        epoll.modify(socket.fd(), mask, slot);
    }

    void unwatch(final StreamFd socket)
    {
        epoll.remove(socket.fd());
    }

    /**
     * Handles what is ready: accepts host clients, reads their request lines, passes connection events on.
     */
    void poll(final Events events)
    {
        final int n;
        try
        {
            n = epoll.await(0);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.ERROR, name + ": epoll_wait on the host sockets failed: " + e.getMessage());
            return;
        }
        for (int i = 0; i < n; i++)
        {
            final long token = epoll.token(i);
            final int mask = epoll.readyMask(i);
            if (token == TOKEN_LISTENER)
            {
                accept(events);
            }
            else if (token >= TOKEN_PENDING)
            {
                readRequest((int)(token - TOKEN_PENDING), events);
            }
            else
            {
                events.connectionReady((int)token, mask);
            }
        }
    }

    private void accept(final Events events)
    {
        while (true)
        {
            final StreamFd client;
            try
            {
                client = listener.accept();
            }
            catch (final NativeException e)
            {
                LOG.log(Level.WARNING, name + ": accepting a host client on " + udsPath + " failed: "
                    + e.getMessage());
                return;
            }
            if (null == client)
            {
                return;
            }
            int free = -1;
            for (int i = 0; i < MAX_PENDING && free < 0; i++)
            {
                free = null == pending[i] ? i : -1;
            }
            if (free < 0)
            {
                client.close();
                if (LogThrottle.due(++refused))
                {
                    LOG.log(Level.WARNING, name + ": refused a host client on " + udsPath + ": " + MAX_PENDING
                        + " are already mid-request (" + refused + " refused so far)");
                }
                continue;
            }
            try
            {
                epoll.add(client.fd(), LibC.EPOLLIN | LibC.EPOLLRDHUP, TOKEN_PENDING + free);
            }
            catch (final NativeException e)
            {
                client.close();
                LOG.log(Level.WARNING, name + ": cannot watch a host client: " + e.getMessage());
                continue;
            }
            pending[free] = client;
            lineLengths[free] = 0;
            // The line usually came with the connection.
            readRequest(free, events);
        }
    }

    private void readRequest(final int i, final Events events)
    {
        final StreamFd client = pending[i];
        if (null == client)
        {
            return;
        }
        while (true)
        {
            final long n = client.read(oneByte.address(), 1);
            if (n == -Errno.EAGAIN)
            {
                return;
            }
            if (n <= 0)
            {
                drop(i, n == 0 ? "closed before its request line ended"
                    : "failed reading its request: " + Errno.name((int)-n));
                return;
            }
            final byte b = oneByte.get(ValueLayout.JAVA_BYTE, 0);
            if (b == '\n')
            {
                final long port = parseConnect(lines[i], lineLengths[i]);
                if (port < 0)
                {
                    drop(i, "sent \"" + printable(lines[i], lineLengths[i]) + "\", not CONNECT <port>");
                    return;
                }
                epoll.remove(client.fd());
                pending[i] = null;
                events.hostRequest((int)port, client);
                return;
            }
            if (lineLengths[i] == MAX_LINE)
            {
                drop(i, "sent a request line longer than " + MAX_LINE + " bytes");
                return;
            }
            lines[i][lineLengths[i]++] = b;
        }
    }

    private void drop(final int i, final String why)
    {
        epoll.remove(pending[i].fd());
        pending[i].close();
        pending[i] = null;
        LOG.log(Level.WARNING, name + ": host client on " + udsPath + " " + why + "; closed");
    }

    /**
     * @return the port of {@code CONNECT <port>} (an optional trailing CR allowed), or -1 when malformed or
     *     VMADDR_PORT_ANY (4294967295, which names no port).
     */
    static long parseConnect(final byte[] line, final int length)
    {
        final byte[] prefix = {'C', 'O', 'N', 'N', 'E', 'C', 'T', ' '};
        int end = length;
        if (end > 0 && line[end - 1] == '\r')
        {
            end--;
        }
        if (end <= prefix.length || end - prefix.length > 10)
        {
            return -1;
        }
        for (int i = 0; i < prefix.length; i++)
        {
            if (line[i] != prefix[i])
            {
                return -1;
            }
        }
        long port = 0;
        for (int i = prefix.length; i < end; i++)
        {
            if (line[i] < '0' || line[i] > '9')
            {
                return -1;
            }
            port = port * 10 + (line[i] - '0');
        }
        return port >= 0xFFFF_FFFFL ? -1 : port;
    }

    private static String printable(final byte[] line, final int length)
    {
        final StringBuilder s = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            final int c = line[i] & 0xFF;
            s.append(c >= 0x20 && c < 0x7F ? String.valueOf((char)c) : String.format("\\x%02x", c));
        }
        return s.toString();
    }

    @Override
    public synchronized void close()
    {
        for (int i = 0; i < MAX_PENDING; i++)
        {
            if (null != pending[i])
            {
                pending[i].close();
                pending[i] = null;
            }
        }
        epoll.close();
        listener.close();
    }
}
