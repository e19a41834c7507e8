package io.jvhost.display;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.function.Consumer;

/**
 * A listening TCP socket and the platform thread that accepts on it, shared by the web console's HTTP server and the
 * VNC listeners. Each accepted socket goes to {@code onAccept} on the accept thread, which decides whether and how it
 * is served (typically on a virtual thread of its own).
 */
public final class TcpAcceptor implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(TcpAcceptor.class.getName());

    private final String name;
    private final String protocol;
    private final ServerSocket server;
    private final Consumer<Socket> onAccept;
    private final Thread thread;
    private volatile boolean closed;

    /**
     * Binds {@code address} and starts accepting.
     *
     * @param protocol for thread names and messages, e.g. {@code HTTP} or {@code VNC}.
     * @throws IOException naming the protocol and address when it cannot be bound.
     */
    public TcpAcceptor(final String name, final String protocol, final InetSocketAddress address, final int backlog,
        final Consumer<Socket> onAccept) throws IOException
    {
        this.name = name;
        this.protocol = protocol;
        this.onAccept = onAccept;
        final ServerSocket s = new ServerSocket();
        try
        {
            s.setReuseAddress(true);
            s.bind(address, backlog);
        }
        catch (final IOException e)
        {
            s.close();
            throw new IOException("cannot listen for " + protocol + " on " + address + ": " + e.getMessage(), e);
        }
        this.server = s;
        this.thread = Thread.ofPlatform().daemon(true)
            .name(name + "-" + protocol.toLowerCase(java.util.Locale.ROOT) + "-accept").start(this::acceptLoop);
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
                    LOG.log(Level.ERROR, name + ": " + protocol + " accept on " + address() + " failed: "
                        + e.getMessage());
                }
                return;
            }
            onAccept.accept(socket);
        }
    }

    /**
     * Stops accepting and waits (briefly) for the accept thread to end. Accepted sockets are not touched.
     */
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
            thread.join(2000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
