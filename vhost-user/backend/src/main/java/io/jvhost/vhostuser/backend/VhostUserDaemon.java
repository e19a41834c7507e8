package io.jvhost.vhostuser.backend;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.function.Supplier;

import io.jvhost.device.VirtioDevice;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

/**
 * Serves one device on one vhost-user socket: accepts a front-end, serves it until it goes away, resets the
 * device and accepts the next, until {@link #shutdown()}.
 * <p>
 * Whatever ends a connection (the front-end hanging up, a fault in its guest memory, an {@link Error} in a worker or
 * in a request) is one log line, and the next front-end is accepted. Only a listening socket that fails for good
 * (anything but a lack of descriptors or memory, or a connection that died in the queue) ends {@link #run()} early;
 * {@link #failed()} then says so, and a launcher exits non-zero.
 */
public final class VhostUserDaemon implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserDaemon.class.getName());
    /** Pause after an accept that failed for lack of descriptors or memory: the queue stays readable meanwhile. */
    private static final int ACCEPT_RETRY_MILLIS = 100;

    private final String name;
    private final VirtioDevice device;
    private final Supplier<VhostUserExtension> extensions;
    private final UnixSocket listener;
    private final boolean acceptLoop;
    private volatile boolean stopping;
    private volatile boolean failed;
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
     * Runs until {@link #shutdown()} (or, for an inherited connected socket, until the front-end disconnects), or
     * until the listening socket fails for good ({@link #failed()}). Never throws.
     */
    public void run()
    {
        try
        {
            LOG.log(Level.INFO, name + ": " + device.name() + " device listening on " + where());
            if (!acceptLoop)
            {
                serveConnection(listener);
                return;
            }
            acceptLoop();
        }
        catch (final Throwable t)
        {
            failed = true;
            LOG.log(Level.ERROR, name + ": stopped serving " + where() + ": " + ThreadTop.describe(t));
        }
    }

    private void acceptLoop()
    {
        while (!stopping)
        {
            final UnixSocket connection;
            try
            {
                connection = listener.accept();
            }
            catch (final NativeException e)
            {
                if (stopping)
                {
                    return;
                }
                if (!retryable(e.errno()))
                {
                    failed = true;
                    LOG.log(Level.ERROR, name + ": accept on " + where() + " failed for good, no front-end can"
                        + " connect any more: " + e.getMessage());
                    return;
                }
                LOG.log(Level.WARNING, name + ": accept on " + where() + " failed: " + e.getMessage()
                    + (e.errno() == Errno.ECONNABORTED || e.errno() == Errno.EPROTO ? ""
                        : "; retrying in " + ACCEPT_RETRY_MILLIS + " ms"));
                pauseAfter(e.errno());
                continue;
            }
            serveConnection(connection);
        }
    }

    /**
     * @return true for what accept(2) may fail with and succeed later: a connection that died waiting, or too few
     *     descriptors or memory for now.
     */
    private static boolean retryable(final int errno)
    {
        return errno == Errno.ECONNABORTED || errno == Errno.EPROTO || errno == Errno.EMFILE || errno == Errno.ENFILE
            || errno == Errno.ENOBUFS || errno == Errno.ENOMEM;
    }

    private static void pauseAfter(final int errno)
    {
        if (errno == Errno.ECONNABORTED || errno == Errno.EPROTO)
        {
            return;
        }
        try
        {
            Thread.sleep(ACCEPT_RETRY_MILLIS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    private String where()
    {
        return null != listener.boundPath() ? listener.boundPath().toString() : "fd " + listener.fd();
    }

    /**
     * @return true once {@link #run()} ended because the socket failed, not because of {@link #shutdown()}; for an
     *     inherited connected socket (served once), also when its one connection ended on an error rather than by the
     *     front-end disconnecting (a socket-activated instance then exits non-zero, as a failed service).
     */
    public boolean failed()
    {
        return failed;
    }

    private void serveConnection(final UnixSocket connection)
    {
        current = connection;
        LOG.log(Level.INFO, name + ": front-end connected");
        final String next = acceptLoop ? "; waiting for the next front-end" : "";
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
                // The front-end's doing (its socket, its memory) is a warning; our own failure is an error.
                final Throwable cause = e.getCause();
                final boolean ours = null != cause && !MappedMemory.isFault(cause);
                LOG.log(ours ? Level.ERROR : Level.WARNING, name + ": connection dropped: " + e.getMessage() + next);
                failOneShot();
            }
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, name + ": connection failed unexpectedly: " + e, e);
            failOneShot();
        }
        catch (final Error e)
        {
            LOG.log(Level.ERROR, name + ": connection failed: " + ThreadTop.describe(e) + next);
            failOneShot();
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
     * The connection ended on an error: for a connection served once, that is the daemon's failure.
     */
    private void failOneShot()
    {
        if (!acceptLoop)
        {
            failed = true;
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
