package io.jvhost.display.rfb;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Objects;

/**
 * A TCP port speaking RFB (a native VNC viewer's port): one virtual thread per client, each client a
 * {@link RfbSession} on one scanout.
 */
public final class RfbListener implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(RfbListener.class.getName());

    private final String name;
    private final ServerSocket server;
    private final Framebuffer framebuffer;
    private final RfbConfig config;
    private final SessionRegistry sessions;
    private final Thread acceptor;
    private volatile boolean closed;

    /**
     * Binds and starts accepting.
     *
     * @throws IOException naming the address when it cannot be bound.
     */
    public RfbListener(final String name, final InetSocketAddress address, final Framebuffer framebuffer,
        final RfbConfig config, final SessionRegistry sessions) throws IOException
    {
        this.name = Objects.requireNonNull(name, "name");
        this.framebuffer = Objects.requireNonNull(framebuffer, "framebuffer");
        this.config = Objects.requireNonNull(config, "config");
        this.sessions = Objects.requireNonNull(sessions, "sessions");
        final ServerSocket s = new ServerSocket();
        try
        {
            s.setReuseAddress(true);
            s.bind(address, 16);
        }
        catch (final IOException e)
        {
            s.close();
            throw new IOException("cannot listen for VNC on " + address + ": " + e.getMessage(), e);
        }
        this.server = s;
        this.acceptor = Thread.ofPlatform().daemon(true).name(name + "-vnc-accept").start(this::acceptLoop);
    }

    /**
     * @return the bound address (with the real port when 0 was asked for).
     */
    public InetSocketAddress address()
    {
        return (InetSocketAddress)server.getLocalSocketAddress();
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            final Socket socket;
            try
            {
                socket = server.accept();
            }
            catch (final IOException e)
            {
                if (!closed)
                {
                    LOG.log(Level.ERROR, name + ": VNC accept on " + address() + " failed: " + e.getMessage());
                }
                return;
            }
            Thread.ofVirtual().name(name + "-vnc-client").start(() -> serve(socket));
        }
    }

    private void serve(final Socket socket)
    {
        try
        {
            socket.setTcpNoDelay(true);
        }
        catch (final IOException e)
        {
            // Not fatal.
        }
        final SocketTransport transport = new SocketTransport(socket, "vnc");
        final RfbSession session = new RfbSession(transport.peer() + " scanout " + framebuffer.index(), transport,
            framebuffer, config);
        if (!sessions.serve(session, transport))
        {
            LOG.log(Level.WARNING, name + ": refused " + transport.peer() + ": " + sessions.max()
                + " viewers already connected");
        }
    }

    @Override
    public void close()
    {
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException e)
        {
            // Closing anyway.
        }
        try
        {
            acceptor.join(2000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
