package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static io.jvhost.virtqueue.SplitRingLayout.U16_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U32_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U64_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A cursor over the device-writable buffers of a {@link DescriptorChain}, as one byte stream that may span
 * descriptors and memory regions. Multi-byte values are little-endian (virtio 1.x). Reused; allocation-free.
 * <p>
 * Obtained from {@link DescriptorChain#writer()}; every pop repositions it at the start of the writable part.
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

    /** Source of {@link #fill}: copying from a shared zero page avoids allocating a slice to fill. */
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[4096]);

    private final DescriptorChain chain;
    private final ChainCursor cursor;
    /** Assembles values that straddle a span boundary (rare: only at buffer or region ends). */
    private final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    ChainWriter(final DescriptorChain chain)
    {
        this.chain = chain;
        this.cursor = new ChainCursor(chain);
    }

    /**
     * Repositions at the start of the chain's writable part.
     */
    void reset()
    {
        cursor.reset(chain.readableCount(), chain.writableBytes());
    }

    /**
     * Goes back to the start of the writable part (e.g. to replace a reply): {@link #written()} becomes 0, the bytes
     * already written stay in guest memory. Added to the stubbed API.
     */
    public void rewind()
    {
        reset();
    }

    /**
     * @return bytes of writable space left.
     */
    public long remaining()
    {
        return cursor.remaining();
    }

    /**
     * @return bytes written so far: the used length to report for the chain.
     */
    public long written()
    {
        return cursor.position();
    }

    /**
     * Copies {@code length} bytes from {@code src} at {@code srcOffset}.
     *
     * @throws ChainAccessException if less room remains (nothing is written then).
     * @throws IndexOutOfBoundsException if {@code src} does not hold them (nothing is written then).
     */
    public void write(final MemorySegment src, final long srcOffset, final long length) throws ChainAccessException
    {
        Objects.checkFromIndexSize(srcOffset, length, src.byteSize());
        require(length);
        cursor.copyIn(src, srcOffset, length);
    }

    /**
     * Writes one byte.
     *
     * @throws ChainAccessException if no room remains.
     */
    public void writeByte(final byte value) throws ChainAccessException
    {
        require(1);
        cursor.span();
        cursor.spanBytes().set(JAVA_BYTE, cursor.spanOffset(), value);
        cursor.advanceAndEnd(1);
    }

    /**
     * Writes a little-endian u16.
     *
     * @throws ChainAccessException if fewer than 2 bytes of room remain (nothing is written then).
     */
    public void writeShort(final short value) throws ChainAccessException
    {
        require(2);
        if (cursor.span() >= 2)
        {
            cursor.spanBytes().set(U16_UNALIGNED, cursor.spanOffset(), value);
            cursor.advanceAndEnd(2);
            return;
        }
        scratch.set(U16_UNALIGNED, 0, value);
        cursor.copyIn(scratch, 0, 2);
    }

    /**
     * Writes a little-endian u32.
     *
     * @throws ChainAccessException if fewer than 4 bytes of room remain (nothing is written then).
     */
    public void writeInt(final int value) throws ChainAccessException
    {
        require(4);
        if (cursor.span() >= 4)
        {
            cursor.spanBytes().set(U32_UNALIGNED, cursor.spanOffset(), value);
            cursor.advanceAndEnd(4);
            return;
        }
        scratch.set(U32_UNALIGNED, 0, value);
        cursor.copyIn(scratch, 0, 4);
    }

    /**
     * Writes a little-endian u64.
     *
     * @throws ChainAccessException if fewer than 8 bytes of room remain (nothing is written then).
     */
    public void writeLong(final long value) throws ChainAccessException
    {
        require(8);
        if (cursor.span() >= 8)
        {
            cursor.spanBytes().set(U64_UNALIGNED, cursor.spanOffset(), value);
            cursor.advanceAndEnd(8);
            return;
        }
        scratch.set(U64_UNALIGNED, 0, value);
        cursor.copyIn(scratch, 0, 8);
    }

    /**
     * Writes {@code length} zero bytes.
     *
     * @throws ChainAccessException if less room remains (nothing is written then).
     */
    public void fill(final long length) throws ChainAccessException
    {
        if (length < 0)
        {
            throw new IllegalArgumentException("negative fill length=" + length);
        }
        require(length);
        long left = length;
        while (left > 0)
        {
            final long n = Math.min(left, ZEROS.byteSize());
            cursor.copyIn(ZEROS, 0, n);
            left -= n;
        }
    }

    /**
     * Lets {@code transfer} fill up to {@code maxLength} bytes of the writable space directly, span by span (zero
     * copy: e.g. a {@code read(2)} from a file into guest memory). A span never crosses a descriptor or a
     * memory-region boundary, and its host address is {@code region.bytes().address() + offset}, so the regions must
     * be native memory (mappings always are).
     *
     * @return bytes transferred (counted in {@link #written()}), or the negative error of the first failing span
     *     if none were.
     * @throws IllegalStateException if {@code transfer} claims more bytes than it was offered.
     */
    public long transferFrom(final Transfer transfer, final long maxLength)
    {
        final long total = Math.min(maxLength, cursor.remaining());
        long done = 0;
        while (done < total)
        {
            final long offered = Math.min(total - done, cursor.span());
            final long n = transfer.into(cursor.spanBytes().address() + cursor.spanOffset(), offered);
            if (n < 0 || n > offered)
            {
                cursor.endAccess();
                if (n > offered)
                {
                    throw new IllegalStateException("transfer wrote " + n + " bytes into a span of " + offered);
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
            throw new ChainAccessException("write of " + length + " bytes at position " + cursor.position()
                + " past the writable part of chain head=" + chain.head() + ": writable=" + cursor.limit()
                + ", remaining=" + cursor.remaining());
        }
    }
}
