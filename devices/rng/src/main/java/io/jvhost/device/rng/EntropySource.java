package io.jvhost.device.rng;

import java.io.IOException;

import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.virtqueue.ChainWriter;

/**
 * A file that random bytes are read from (default {@code /dev/urandom}), read straight into guest memory with
 * {@code read(2)}: no intermediate buffer, no allocation. One source may be shared by several devices.
 */
public final class EntropySource implements ChainWriter.Transfer, AutoCloseable
{

    private final String path;
    private final int fd;

    private EntropySource(final String path, final int fd)
    {
        this.path = path;
        this.fd = fd;
    }

    /**
     * Opens {@code path} for reading.
     *
     * @throws IOException naming the path and errno when it cannot be opened.
     */
    public static EntropySource open(final String path) throws IOException
    {
        try
        {
            return new EntropySource(path, LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC));
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot open rng source " + path + ": " + e.errnoName(), e);
        }
    }

    public String path()
    {
        return path;
    }

    @Override
    public long into(final long hostAddress, final long length)
    {
        return LibC.readRaw(fd, hostAddress, length);
    }

    @Override
    public void close()
    {
        LibC.closeQuietly(fd);
    }
}
