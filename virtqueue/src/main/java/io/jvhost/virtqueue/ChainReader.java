package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import static io.jvhost.virtqueue.SplitRingLayout.U16_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U32_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U64_UNALIGNED;

/**
 * A cursor over the device-readable buffers of a {@link DescriptorChain}, as one byte stream that may span
 * descriptors and memory regions. Multi-byte values are little-endian (virtio 1.x). Reused; allocation-free.
 * <p>
 * Obtained from {@link DescriptorChain#reader()}; every pop repositions it at the start of the readable part.
 */
public final class ChainReader
{
    /**
     * Moves bytes straight from guest memory to a host sink (a socket, a file), one contiguous span at a time.
     */
    @FunctionalInterface
    public interface Transfer
    {
        /**
         * @param hostAddress where in this process the span starts (valid only during the call).
         * @param length      bytes available in the span.
         * @return bytes actually taken from the span (less than {@code length} stops the transfer), or a negative
         *     value for an error (also stops it).
         */
        long from(long hostAddress, long length);
    }

    private final DescriptorChain chain;
    private final ChainCursor cursor;
    /** Assembles values that straddle a span boundary (rare: only at buffer or region ends). */
    private final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    ChainReader(final DescriptorChain chain)
    {
        this.chain = chain;
        this.cursor = new ChainCursor(chain);
    }

    /**
     * Repositions at the start of the chain's readable part.
     */
    void reset()
    {
        cursor.reset(0, chain.readableBytes());
    }

    /**
     * Goes back to the start of the readable part (e.g. to parse a request again). Added to the stubbed API.
     */
    public void rewind()
    {
        reset();
    }

    /**
     * @return bytes left to read.
     */
    public long remaining()
    {
        return cursor.remaining();
    }

    /**
     * @return bytes read so far.
     */
    public long position()
    {
        return cursor.position();
    }

    /**
     * Copies {@code length} bytes into {@code dst} at {@code dstOffset}.
     *
     * @throws ChainAccessException if fewer than {@code length} bytes remain (nothing is consumed then).
     * @throws IndexOutOfBoundsException if {@code dst} cannot take them (nothing is consumed then).
     */
    public void read(final MemorySegment dst, final long dstOffset, final long length) throws ChainAccessException
    {
        Objects.checkFromIndexSize(dstOffset, length, dst.byteSize());
        require(length);
        cursor.copyOut(dst, dstOffset, length);
    }

    /**
     * @return the next byte.
     * @throws ChainAccessException if none remains.
     */
    public byte readByte() throws ChainAccessException
    {
        require(1);
        cursor.span();
        final byte value = cursor.spanBytes().get(JAVA_BYTE, cursor.spanOffset());
        cursor.advanceAndEnd(1);
        return value;
    }

    /**
     * @return the next little-endian u16 (as a short).
     * @throws ChainAccessException if fewer than 2 bytes remain (nothing is consumed then).
     */
    public short readShort() throws ChainAccessException
    {
        require(2);
        if (cursor.span() >= 2)
        {
            final short value = cursor.spanBytes().get(U16_UNALIGNED, cursor.spanOffset());
            cursor.advanceAndEnd(2);
            return value;
        }
        cursor.copyOut(scratch, 0, 2);
        return scratch.get(U16_UNALIGNED, 0);
    }

    /**
     * @return the next little-endian u32 (as an int).
     * @throws ChainAccessException if fewer than 4 bytes remain (nothing is consumed then).
     */
    public int readInt() throws ChainAccessException
    {
        require(4);
        if (cursor.span() >= 4)
        {
            final int value = cursor.spanBytes().get(U32_UNALIGNED, cursor.spanOffset());
            cursor.advanceAndEnd(4);
            return value;
        }
        cursor.copyOut(scratch, 0, 4);
        return scratch.get(U32_UNALIGNED, 0);
    }

    /**
     * @return the next little-endian u64 (as a long).
     * @throws ChainAccessException if fewer than 8 bytes remain (nothing is consumed then).
     */
    public long readLong() throws ChainAccessException
    {
        require(8);
        if (cursor.span() >= 8)
        {
            final long value = cursor.spanBytes().get(U64_UNALIGNED, cursor.spanOffset());
            cursor.advanceAndEnd(8);
            return value;
        }
        cursor.copyOut(scratch, 0, 8);
        return scratch.get(U64_UNALIGNED, 0);
    }

    /**
     * Skips {@code length} bytes.
     *
     * @throws ChainAccessException if fewer remain (nothing is consumed then).
     */
    public void skip(final long length) throws ChainAccessException
    {
        if (length < 0)
        {
            throw new IllegalArgumentException("negative skip length=" + length);
        }
        require(length);
        cursor.skip(length);
    }

    /**
     * Lets {@code transfer} take up to {@code maxLength} bytes of the readable part directly, span by span (zero copy:
     * e.g. a {@code send(2)} from guest memory to a socket). A span never crosses a descriptor or a memory-region
     * boundary, and its host address is {@code region.bytes().address() + offset}, so the regions must be native
     * memory (mappings always are). The counterpart of {@link ChainWriter#transferFrom}.
     *
     * @return bytes transferred (counted in {@link #position()}; the next read starts after them), or the negative
     *     error of the first failing span if none were.
     * @throws IllegalStateException if {@code transfer} claims more bytes than it was offered.
     */
    public long transferTo(final Transfer transfer, final long maxLength)
    {
        final long total = Math.min(maxLength, cursor.remaining());
        long done = 0;
        while (done < total)
        {
            final long offered = Math.min(total - done, cursor.span());
            final long n = transfer.from(cursor.spanBytes().address() + cursor.spanOffset(), offered);
            if (n < 0 || n > offered)
            {
                cursor.endAccess();
                if (n > offered)
                {
                    throw new IllegalStateException("transfer took " + n + " bytes from a span of " + offered);
                }
                return 0 == done ? n : done;
            }
            cursor.advanceAndEnd(n);
            done += n;
            if (n < offered)
            {
                break;
            }
        }
        return done;
    }

    private void require(final long length) throws ChainAccessException
    {
        if (length > cursor.remaining())
        {
            throw new ChainAccessException("read of " + length + " bytes at position " + cursor.position()
                + " past the readable part of chain head=" + chain.head() + ": readable=" + cursor.limit()
                + ", remaining=" + cursor.remaining());
        }
    }
}
