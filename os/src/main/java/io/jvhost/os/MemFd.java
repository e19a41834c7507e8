package io.jvhost.os;

/**
 * An anonymous shared-memory file ({@code memfd_create}), as QEMU uses for guest RAM that a vhost-user back-end maps.
 */
public final class MemFd implements AutoCloseable
{
    /** memfd_create: the file accepts seals (without it, it is sealed against further seals). */
    public static final int MFD_ALLOW_SEALING = 0x2;
    /** fcntl: add seals. */
    public static final int F_ADD_SEALS = 1033;
    /** fcntl: read the seals. */
    public static final int F_GET_SEALS = 1034;
    /** Seal: the file cannot shrink (its mappings cannot lose pages under a reader). */
    public static final int F_SEAL_SHRINK = 0x2;

    private final int fd;
    private final long size;
    private boolean closed;

    private MemFd(final int fd, final long size)
    {
        this.fd = fd;
        this.size = size;
    }

    /**
     * Creates a close-on-exec memfd of {@code size} bytes, all zero, that accepts {@link #seal seals}.
     */
    public static MemFd create(final String name, final long size) throws NativeException
    {
        final int fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC | MFD_ALLOW_SEALING);
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
     * Adds seals ({@code F_SEAL_*}), e.g. {@link #F_SEAL_SHRINK}.
     */
    public void seal(final int seals) throws NativeException
    {
        LibC.fcntl(fd, F_ADD_SEALS, seals);
    }

    /**
     * @return the seals of any descriptor ({@code F_SEAL_*} bits), or -1 when its file cannot carry seals (not a
     *     memfd, tmpfs or hugetlbfs file: EINVAL).
     */
    public static int seals(final int fd) throws NativeException
    {
        try
        {
            return LibC.fcntl(fd, F_GET_SEALS, 0);
        }
        catch (final NativeException e)
        {
            if (e.errno() == Errno.EINVAL)
            {
                return -1;
            }
            throw e;
        }
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
