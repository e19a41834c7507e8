package io.jvhost.device.console;

import java.lang.System.Logger.Level;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Epoll;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.StreamFd;
import io.jvhost.os.TcpListener;

/**
 * {@code --backend network}: a TCP listener on 127.0.0.1, one client at a time (a second one is accepted and closed
 * at once, with a log line, so it is not left waiting). The listener stays open across front-end connections: the
 * port is the console's, not one VM's.
 * <p>
 * The listener and the client are watched by an epoll of this back-end's own, whose descriptor the device has its
 * worker watch ({@link #pollFd()}); the client's interest follows what the device can take: input only while it holds
 * guest buffers, writability only while guest output waits.
 */
public final class NetworkBackend implements ConsoleBackend
{
    private static final System.Logger LOG = System.getLogger(NetworkBackend.class.getName());
    private static final long TOKEN_LISTENER = 1;
    private static final long TOKEN_CLIENT = 2;

    private final String name;
    private final TcpListener listener;
    private final Epoll epoll;
    private StreamFd client;
    private int clientMask;
    private boolean wantInput;
    private boolean wantOutput;
    private long discarded;
    private long refused;

    private NetworkBackend(final String name, final TcpListener listener, final Epoll epoll)
    {
        this.name = name;
        this.listener = listener;
        this.epoll = epoll;
    }

    /**
     * Listens on 127.0.0.1:{@code port} (0: a port the kernel picks, see {@link #port()}).
     *
     * @throws NativeException naming the port, e.g. EADDRINUSE.
     */
    public static NetworkBackend listen(final String name, final int port) throws NativeException
    {
        final TcpListener listener = TcpListener.loopback(port);
        try
        {
            final Epoll epoll = Epoll.create(4);
            try
            {
                epoll.add(listener.fd(), LibC.EPOLLIN, TOKEN_LISTENER);
            }
            catch (final NativeException e)
            {
                epoll.close();
                throw e;
            }
            LOG.log(Level.INFO, name + ": console on tcp 127.0.0.1:" + listener.port());
            return new NetworkBackend(name, listener, epoll);
        }
        catch (final NativeException | RuntimeException e)
        {
            listener.close();
            throw e;
        }
    }

    /**
     * @return the TCP port listened on.
     */
    public int port()
    {
        return listener.port();
    }

    @Override
    public String describe()
    {
        return "tcp 127.0.0.1:" + listener.port();
    }

    @Override
    public int pollFd()
    {
        return epoll.fd();
    }

    @Override
    public int poll()
    {
        final int n;
        try
        {
            n = epoll.await(0);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.ERROR, name + ": epoll_wait on the console's descriptors failed: " + e.getMessage());
            return 0;
        }
        int result = 0;
        for (int i = 0; i < n; i++)
        {
            final int mask = epoll.readyMask(i);
            if (epoll.token(i) == TOKEN_LISTENER)
            {
                result |= accept();
            }
            else if (null != client)
            {
                result |= clientEvent(mask);
            }
        }
        updateInterest();
        return result;
    }

    private int accept()
    {
        final StreamFd accepted;
        try
        {
            accepted = listener.accept();
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, name + ": accepting a console client failed: " + e.getMessage());
            return 0;
        }
        if (null == accepted)
        {
            return 0;
        }
        if (null != client)
        {
            accepted.close();
            if (LogThrottle.due(++refused))
            {
                LOG.log(Level.WARNING, name + ": refused a second console client on port " + listener.port()
                    + ": one at a time (" + refused + " refused so far)");
            }
            return 0;
        }
        try
        {
            clientMask = mask();
            epoll.add(accepted.fd(), clientMask, TOKEN_CLIENT);
        }
        catch (final NativeException e)
        {
            accepted.close();
            LOG.log(Level.WARNING, name + ": cannot watch the console client: " + e.getMessage());
            return 0;
        }
        client = accepted;
        LOG.log(Level.INFO, name + ": console client connected on port " + listener.port());
        return CONNECTION;
    }

    private int clientEvent(final int mask)
    {
        if ((mask & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            disconnect("hung up");
            return CONNECTION | OUTPUT;
        }
        if ((mask & LibC.EPOLLRDHUP) != 0 && readable() == 0)
        {
            // Input it sent before closing has been delivered; only now is it gone.
            disconnect("closed the connection");
            return CONNECTION | OUTPUT;
        }
        int result = 0;
        if ((mask & LibC.EPOLLIN) != 0)
        {
            result |= INPUT;
        }
        if ((mask & LibC.EPOLLOUT) != 0)
        {
            wantOutput = false;
            result |= OUTPUT;
        }
        return result;
    }

    private int mask()
    {
        return (wantInput ? LibC.EPOLLIN | LibC.EPOLLRDHUP : 0) | (wantOutput ? LibC.EPOLLOUT : 0);
    }

    private void updateInterest()
    {
        if (null == client)
        {
            return;
        }
        final int mask = mask();
        if (mask != clientMask)
        {
            try
            {
                epoll.modify(client.fd(), mask, TOKEN_CLIENT);
                clientMask = mask;
            }
            catch (final NativeException e)
            {
                disconnect("cannot be watched any more (" + e.getMessage() + ")");
            }
        }
    }

    private void disconnect(final String why)
    {
        epoll.remove(client.fd());
        client.close();
        client = null;
        wantOutput = false;
        LOG.log(Level.INFO, name + ": console client on port " + listener.port() + " " + why);
    }

    @Override
    public boolean connected()
    {
        return null != client;
    }

    @Override
    public long readable()
    {
        return null == client ? 0 : Math.max(0, client.readable());
    }

    @Override
    public long read(final long address, final long length)
    {
        if (null == client)
        {
            return 0;
        }
        final long n = client.read(address, length);
        if (n > 0)
        {
            return n;
        }
        if (0 == n)
        {
            disconnect("closed the connection");
        }
        else if (n != -Errno.EAGAIN)
        {
            disconnect("failed: read " + Errno.name((int)-n));
        }
        return 0;
    }

    @Override
    public long write(final long address, final long length)
    {
        if (null == client)
        {
            discarded += length;
            return length;
        }
        final long n = client.write(address, length);
        if (n >= 0)
        {
            if (n < length)
            {
                wantOutput = true;
                updateInterest();
            }
            return n;
        }
        if (n == -Errno.EAGAIN)
        {
            wantOutput = true;
            updateInterest();
            return 0;
        }
        disconnect("failed: send " + Errno.name((int)-n));
        discarded += length;
        return length;
    }

    @Override
    public void wantInput(final boolean on)
    {
        if (on != wantInput)
        {
            wantInput = on;
            updateInterest();
        }
    }

    @Override
    public long discardedBytes()
    {
        return discarded;
    }

    @Override
    public synchronized void close()
    {
        if (null != client)
        {
            client.close();
            client = null;
        }
        epoll.close();
        listener.close();
    }
}
