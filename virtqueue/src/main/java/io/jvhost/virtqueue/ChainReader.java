package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;

/**
 * A cursor over the device-readable buffers of a {@link DescriptorChain}, as one byte stream that may span
 * descriptors and memory regions. Multi-byte values are little-endian (virtio 1.x). Reused; allocation-free.
 */
public final class ChainReader
{
    /**
     * @return bytes left to read.
     */
    public long remaining()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return bytes read so far.
     */
    public long position()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Copies {@code length} bytes into {@code dst} at {@code dstOffset}.
     *
     * @throws ChainAccessException if fewer than {@code length} bytes remain (nothing is consumed then).
     */
    public void read(final MemorySegment dst, final long dstOffset, final long length) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public byte readByte() throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public short readShort() throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public int readInt() throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public long readLong() throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Skips {@code length} bytes.
     *
     * @throws ChainAccessException if fewer remain.
     */
    public void skip(final long length) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }
}
