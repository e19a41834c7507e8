package io.jvhost.display.rfb;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Objects;

import io.jvhost.display.TcpAcceptor;
import io.jvhost.os.ThreadTop;

/**
 * A TCP port speaking RFB (a native VNC viewer's port): one virtual thread per client, each client a
 * {@link RfbSession} on one scanout.
 */
public final class RfbListener implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(RfbListener.class.getName());

    private final String name;
    private final TcpAcceptor acceptor;
    private final Framebuffer framebuffer;
    private final RfbConfig config;
    private final SessionRegistry sessions;

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
        this.acceptor = new TcpAcceptor(name, "VNC", address, 16, socket -> Thread.ofVirtual()
            .name(name + "-vnc-client")
            .start(ThreadTop.guarded(name + ": VNC client " + socket.getRemoteSocketAddress(), () -> serve(socket))));
    }

    /**
     * @return the bound address (with the real port when 0 was asked for).
     */
    public InetSocketAddress address()
    {
        return acceptor.address();
    }

    /**
     * On the client's own thread, whose top ({@link ThreadTop}) logs whatever escapes; the socket is closed in any
     * case.
     */
    private void serve(final Socket socket)
    {
        final SocketTransport transport = new SocketTransport(socket, "vnc");
        try
        {
            try
            {
                socket.setTcpNoDelay(true);
            }
            catch (final IOException e)
            {
                // Not fatal.
            }
            final RfbSession session = new RfbSession(transport.peer() + " scanout " + framebuffer.index(), transport,
                framebuffer, config);
            if (!sessions.serve(session, transport))
            {
                LOG.log(Level.WARNING, name + ": refused " + transport.peer() + ": " + sessions.max()
                    + " viewers already connected");
            }
        }
        finally
        {
            transport.close();
        }
    }

    @Override
    public void close()
    {
        acceptor.close();
    }
}
