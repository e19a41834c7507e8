package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;

/**
 * A cursor over the device-writable buffers of a {@link DescriptorChain}, as one byte stream that may span
 * descriptors and memory regions. Multi-byte values are little-endian (virtio 1.x). Reused; allocation-free.
 */
public final class ChainWriter
{
    /**
     * Moves bytes straight between a host source (a file, a socket) and guest memory, one contiguous span at a time.
     */
    @FunctionalInterface
    public interface Transfer
    {
        /**
         * @param hostAddress where in this process the span starts (valid only during the call).
         * @param length      bytes available in the span.
         * @return bytes actually written into the span (less than {@code length} stops the transfer), or a negative
         *     value for an error (also stops it).
         */
        long into(long hostAddress, long length);
    }

    /**
     * @return bytes of writable space left.
     */
    public long remaining()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return bytes written so far: the used length to report for the chain.
     */
    public long written()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Copies {@code length} bytes from {@code src} at {@code srcOffset}.
     *
     * @throws ChainAccessException if less room remains (nothing is written then).
     */
    public void write(final MemorySegment src, final long srcOffset, final long length) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public void writeByte(final byte value) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public void writeShort(final short value) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public void writeInt(final int value) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    public void writeLong(final long value) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Writes {@code length} zero bytes.
     */
    public void fill(final long length) throws ChainAccessException
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Lets {@code transfer} fill up to {@code maxLength} bytes of the writable space directly, span by span (zero
     * copy: e.g. a {@code read(2)} from a file into guest memory).
     *
     * @return bytes transferred (counted in {@link #written()}), or the negative error of the first failing span
     *     if none were.
     */
    public long transferFrom(final Transfer transfer, final long maxLength)
    {
        throw new UnsupportedOperationException("TODO");
    }
}
