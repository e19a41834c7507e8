package io.jvhost.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * A non-blocking AF_UNIX stream listener whose connections are {@link StreamFd}s, and non-blocking connects to such
 * listeners: the host side of hybrid vsock, where every descriptor is our own and none may block the worker.
 */
public final class UnixStreamListener implements AutoCloseable
{

    private final int fd;
    private final Path path;
    private boolean closed;

    private UnixStreamListener(final int fd, final Path path)
    {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Listens on {@code path}; a stale socket file there is replaced, any other file refused.
     *
     * @throws IOException naming the path (e.g. EADDRINUSE, EACCES).
     */
    public static UnixStreamListener listen(final Path path, final int backlog) throws IOException
    {
        final int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment address = UnixSocket.sockaddr(arena, path);
            try
            {
                LibC.bind(fd, address, UnixSocket.SOCKADDR_UN_SIZE, "path=" + path);
            }
            catch (final NativeException e)
            {
                // Bound first, looked at only when taken (Files.exists without following links throws and catches
                // an exception for a path that is not there): a stale socket file is replaced, anything else refused.
                if (e.errno() != Errno.EADDRINUSE || !Files.exists(path, LinkOption.NOFOLLOW_LINKS))
                {
                    throw e;
                }
                if (!"socket".equals(UnixSocket.fileType(path)))
                {
                    throw new IOException("refusing to replace " + path + ": it exists and is not a socket");
                }
                LibC.unlinkIfExists(path.toString());
                LibC.bind(fd, address, UnixSocket.SOCKADDR_UN_SIZE, "path=" + path);
            }
            LibC.listen(fd, backlog);
            return new UnixStreamListener(fd, path);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Connects to the listener at {@code path} without blocking (a Unix listener answers at once or refuses:
     * ENOENT, ECONNREFUSED, EAGAIN when its backlog is full).
     *
     * @throws NativeException naming the path and errno.
     */
    public static StreamFd connect(final Path path) throws NativeException
    {
        final int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined())
        {
            LibC.connect(fd, UnixSocket.sockaddr(arena, path), UnixSocket.SOCKADDR_UN_SIZE, "path=" + path);
            return StreamFd.socket(fd);
        }
        catch (final NativeException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * @return the listening descriptor (for epoll).
     */
    public int fd()
    {
        return fd;
    }

    /**
     * @return the path listened on.
     */
    public Path path()
    {
        return path;
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

    /**
     * Closes the listener and removes its socket file.
     */
    @Override
    public synchronized void close()
    {
        if (!closed)
        {
            closed = true;
            LibC.closeQuietly(fd);
            try
            {
                LibC.unlinkIfExists(path.toString());
            }
            catch (final NativeException e)
            {
                System.getLogger(UnixStreamListener.class.getName()).log(System.Logger.Level.WARNING,
                    "cannot remove " + path + ": " + e.getMessage());
            }
        }
    }
}
