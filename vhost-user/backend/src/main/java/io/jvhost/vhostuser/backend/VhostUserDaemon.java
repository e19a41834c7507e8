package io.jvhost.vhostuser.backend;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.function.Supplier;

import io.jvhost.device.VirtioDevice;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

/**
 * Serves one device on one vhost-user socket: accepts a front-end, serves it until it goes away, resets the
 * device and accepts the next, until {@link #shutdown()}.
 */
public final class VhostUserDaemon implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserDaemon.class.getName());

    private final String name;
    private final VirtioDevice device;
    private final Supplier<VhostUserExtension> extensions;
    private final UnixSocket listener;
    private final boolean acceptLoop;
    private volatile boolean stopping;
    private volatile UnixSocket current;

    private VhostUserDaemon(final String name, final VirtioDevice device, final Supplier<VhostUserExtension> extensions,
        final UnixSocket listener, final boolean acceptLoop)
    {
        this.name = name;
        this.device = device;
        this.extensions = extensions;
        this.listener = listener;
        this.acceptLoop = acceptLoop;
    }

    /**
     * Listens on {@code path} (replacing a stale socket file).
     */
    public static VhostUserDaemon listen(final String name, final VirtioDevice device, final Path path)
        throws IOException
    {
        return listen(name, device, () -> null, path);
    }

    /**
     * Listens on {@code path}; each connection gets a fresh extension from {@code extensions} (may supply null).
     */
    public static VhostUserDaemon listen(final String name, final VirtioDevice device,
        final Supplier<VhostUserExtension> extensions, final Path path) throws IOException
    {
        return new VhostUserDaemon(name, device, extensions, UnixSocket.listen(path, 1), true);
    }

    /**
     * Serves an inherited descriptor: a listening socket is accepted on repeatedly, a connected one is served once.
     */
    public static VhostUserDaemon inherit(final String name, final VirtioDevice device, final int fd)
        throws NativeException
    {
        return inherit(name, device, () -> null, fd);
    }

    /**
     * Serves an inherited descriptor, with a fresh extension per connection.
     */
    public static VhostUserDaemon inherit(final String name, final VirtioDevice device,
        final Supplier<VhostUserExtension> extensions, final int fd) throws NativeException
    {
        if (!LibC.isOpen(fd))
        {
            throw new NativeException("fcntl", io.jvhost.os.Errno.EBADF, "inherited fd=" + fd + " is not open");
        }
        final boolean listening = LibC.isListeningSocket(fd);
        return new VhostUserDaemon(name, device, extensions, UnixSocket.adopt(fd), listening);
    }

    /**
     * @return the socket path, or null for an inherited descriptor.
     */
    public Path path()
    {
        return listener.boundPath();
    }

    /**
     * Runs until {@link #shutdown()} (or, for an inherited connected socket, until the front-end disconnects).
     */
    public void run()
    {
        LOG.log(Level.INFO, name + ": " + device.name() + " device listening on "
            + (null != listener.boundPath() ? listener.boundPath() : "fd " + listener.fd()));
        if (!acceptLoop)
        {
            serveConnection(listener);
            return;
        }
        while (!stopping)
        {
            final UnixSocket connection;
            try
            {
                connection = listener.accept();
            }
            catch (final NativeException e)
            {
                if (!stopping)
                {
                    LOG.log(Level.ERROR, name + ": accept failed, stopping: " + e.getMessage());
                }
                return;
            }
            serveConnection(connection);
        }
    }

    private void serveConnection(final UnixSocket connection)
    {
        current = connection;
        LOG.log(Level.INFO, name + ": front-end connected");
        try (VhostUserConnection conn = new VhostUserConnection(connection, true);
             VhostUserBackend backend = new VhostUserBackend(name, device, extensions.get()))
        {
            backend.serve(conn);
            LOG.log(Level.INFO, name + ": front-end disconnected" + (acceptLoop ? ", waiting for the next" : ""));
        }
        catch (final IOException e)
        {
            if (!stopping)
            {
                LOG.log(Level.WARNING, name + ": connection dropped: " + e.getMessage()
                    + (acceptLoop ? "; waiting for the next front-end" : ""));
            }
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, name + ": connection failed unexpectedly: " + e, e);
        }
        finally
        {
            current = null;
            if (stopping || !acceptLoop)
            {
                device.reset();
            }
        }
    }

    /**
     * Stops accepting, disconnects the current front-end and makes {@link #run()} return. Safe from any thread.
     */
    public void shutdown()
    {
        stopping = true;
        final UnixSocket c = current;
        if (null != c)
        {
            c.shutdown();
        }
        listener.shutdown();
    }

    /**
     * Shuts down and closes the listening socket, removing its file.
     */
    @Override
    public void close()
    {
        shutdown();
        listener.close();
    }
}
