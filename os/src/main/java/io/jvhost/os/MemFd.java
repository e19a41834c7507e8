package io.jvhost.os;

/**
 * An anonymous shared-memory file ({@code memfd_create}), as QEMU uses for guest RAM that a vhost-user back-end maps.
 */
public final class MemFd implements AutoCloseable
{
    private final int fd;
    private final long size;
    private boolean closed;

    private MemFd(final int fd, final long size)
    {
        this.fd = fd;
        this.size = size;
    }

    /**
     * Creates a close-on-exec memfd of {@code size} bytes, all zero.
     */
    public static MemFd create(final String name, final long size) throws NativeException
    {
        final int fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC);
        try
        {
            LibC.ftruncate(fd, size);
        }
        catch (final NativeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
        return new MemFd(fd, size);
    }

    /**
     * @return the descriptor.
     */
    public int fd()
    {
        return fd;
    }

    /**
     * @return the file size in bytes.
     */
    public long size()
    {
        return size;
    }

    /**
     * Maps the whole file.
     */
    public MappedMemory map() throws NativeException
    {
        return MappedMemory.map(fd, 0, size);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            LibC.closeQuietly(fd);
        }
    }
}
