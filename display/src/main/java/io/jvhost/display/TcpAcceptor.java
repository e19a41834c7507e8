package io.jvhost.display;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.function.Consumer;

import io.jvhost.os.ThreadTop;

/**
 * A listening TCP socket and the platform thread that accepts on it, shared by the web console's HTTP server and the
 * VNC listeners. Each accepted socket goes to {@code onAccept} on the accept thread, which decides whether and how it
 * is served (typically on a virtual thread of its own).
 * <p>
 * The thread accepts until {@link #close()}: a client whose {@code onAccept} fails (an Error included) is dropped with
 * one log line, and a failing {@code accept} (EMFILE while a flood of connections holds every descriptor) is retried
 * after {@link #RETRY_MILLIS}, so no client can stop the listener.
 */
public final class TcpAcceptor implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(TcpAcceptor.class.getName());

    /** How long the accept thread waits after {@code accept} failed before it tries again. */
    public static final int RETRY_MILLIS = 100;

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
            .name(name + "-" + protocol.toLowerCase(java.util.Locale.ROOT) + "-accept")
            .start(ThreadTop.guarded(name + ": " + protocol + " accept on " + address, this::acceptLoop));
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
            catch (final IOException | RuntimeException | Error e)
            {
                if (closed || server.isClosed())
                {
                    return;
                }
                LOG.log(Level.ERROR, name + ": " + protocol + " accept on " + address() + " failed: "
                    + ThreadTop.describe(e) + "; retrying in " + RETRY_MILLIS + " ms");
                pause();
                continue;
            }
            try
            {
                onAccept.accept(socket);
            }
            catch (final RuntimeException | Error e)
            {
                LOG.log(Level.ERROR, name + ": " + protocol + " client " + socket.getRemoteSocketAddress()
                    + " dropped: " + ThreadTop.describe(e));
                closeQuietly(socket);
            }
        }
    }

    /**
     * Backs off after a failed accept (without it, a full descriptor table would spin this thread).
     */
    private static void pause()
    {
        try
        {
            Thread.sleep(RETRY_MILLIS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(final Socket socket)
    {
        try
        {
            socket.close();
        }
        catch (final IOException e)
        {
            // Closing anyway.
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
