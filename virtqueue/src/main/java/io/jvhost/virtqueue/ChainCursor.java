package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;

import io.jvhost.memory.GuestAccessFault;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.memory.XenMmap;
import io.jvhost.memory.xen.GrantWindow;
import io.jvhost.os.Errno;

/**
 * The byte-stream position shared by {@link ChainReader} and {@link ChainWriter}: a run of buffers of a
 * {@link DescriptorChain} seen as one stream, walked span by span, where a span is the largest piece that is
 * contiguous in this process (it ends at a buffer end or at a memory-region end).
 * <p>
 * The current span is cached ({@code spanBytes}, {@code spanOffset}, {@code spanLeft}) so that consecutive small
 * accesses cost one region lookup per span, not per access. Package-private: the public cursors check the bounds
 * first, so every method here may assume the access fits.
 * <p>
 * A span in a Xen grant region mapped per access is mapped into this thread's {@link GrantWindow} when it is looked
 * up, and unmapped by {@link #endAccess()}, which every public reader and writer operation calls when it is done:
 * no grant stays mapped between accesses. For every other region {@code endAccess} is one field test.
 */
final class ChainCursor
{
    private final DescriptorChain chain;

    private long limit;
    private long position;
    private int desc;
    private long descOffset;

    private MemorySegment spanBytes;
    private long spanOffset;
    private long spanLeft;
    /** The current span is in {@link #window}, mapped for this access. */
    private boolean windowed;
    private GrantWindow window;

    ChainCursor(final DescriptorChain chain)
    {
        this.chain = chain;
    }

    /**
     * Positions the cursor at the start of buffers {@code [first, ...)} holding {@code limit} bytes in total.
     */
    void reset(final int first, final long limit)
    {
        endAccess();
        this.limit = limit;
        this.position = 0;
        this.desc = first;
        this.descOffset = 0;
        this.spanBytes = null;
        this.spanOffset = 0;
        this.spanLeft = 0;
    }

    long limit()
    {
        return limit;
    }

    long position()
    {
        return position;
    }

    long remaining()
    {
        return limit - position;
    }

    /**
     * @return bytes left in the current span, looking the next one up if the current one is used up. Only call with
     *     {@code remaining() > 0}.
     */
    long span()
    {
        if (spanLeft == 0)
        {
            nextSpan();
        }
        return spanLeft;
    }

    MemorySegment spanBytes()
    {
        return spanBytes;
    }

    long spanOffset()
    {
        return spanOffset;
    }

    /**
     * Moves forward {@code n} bytes, at most {@link #span()}.
     */
    void advance(final long n)
    {
        spanOffset += n;
        spanLeft -= n;
        descOffset += n;
        position += n;
    }

    /**
     * {@link #advance} then {@link #endAccess}: the last step of a value read or write.
     */
    void advanceAndEnd(final long n)
    {
        advance(n);
        if (windowed)
        {
            unmapWindow();
        }
    }

    /**
     * Ends an access: a span mapped per access is unmapped (the next access maps it again).
     */
    void endAccess()
    {
        if (windowed)
        {
            unmapWindow();
        }
    }

    private void unmapWindow()
    {
        window.unmap();
        windowed = false;
        spanLeft = 0;
    }

    /**
     * Copies {@code length} bytes from the stream into {@code dst}; the caller has checked the bounds.
     */
    void copyOut(final MemorySegment dst, final long dstOffset, final long length)
    {
        long done = 0;
        while (done < length)
        {
            final long n = Math.min(length - done, span());
            MemorySegment.copy(spanBytes, spanOffset, dst, dstOffset + done, n);
            advance(n);
            done += n;
        }
        endAccess();
    }

    /**
     * Copies {@code length} bytes from {@code src} into the stream; the caller has checked the bounds.
     */
    void copyIn(final MemorySegment src, final long srcOffset, final long length)
    {
        long done = 0;
        while (done < length)
        {
            final long n = Math.min(length - done, span());
            MemorySegment.copy(src, srcOffset + done, spanBytes, spanOffset, n);
            advance(n);
            done += n;
        }
        endAccess();
    }

    /**
     * Skips {@code length} bytes; the caller has checked the bounds. Spans are not looked up: only the buffer
     * lengths matter.
     */
    void skip(final long length)
    {
        if (spanLeft >= length)
        {
            advance(length);
            return;
        }
        // Past the cached span: move by buffer lengths and look the span up again on the next access.
        position += length;
        spanLeft = 0;
        long left = length;
        while (left > 0)
        {
            final long inDesc = chain.rawLength(desc) - descOffset;
            if (inDesc >= left)
            {
                descOffset += left;
                return;
            }
            left -= inDesc;
            desc++;
            descOffset = 0;
        }
    }

    private void nextSpan()
    {
        if (windowed)
        {
            unmapWindow();
        }
        long length = chain.rawLength(desc);
        while (descOffset == length)
        {
            desc++;
            descOffset = 0;
            length = chain.rawLength(desc);
        }
        final long gpa = chain.rawAddress(desc) + descOffset;
        final GuestMemory memory = chain.memory();
        final int index = memory.regionIndexOf(gpa);
        if (index < 0)
        {
            // pop validated every buffer against this very snapshot, so this is a bug, not a guest error.
            throw new IllegalStateException("validated buffer not in guest memory: gpa=0x" + Long.toHexString(gpa));
        }
        final MemoryRegion region = memory.region(index);
        if (region.isMappedOnAccess())
        {
            mapWindow(region, gpa, Math.min(length - descOffset, region.guestPhysEnd() - gpa));
            return;
        }
        spanBytes = region.bytes();
        spanOffset = gpa - region.guestPhysAddr();
        spanLeft = Math.min(length - descOffset, region.guestPhysEnd() - gpa);
    }

    private void mapWindow(final MemoryRegion region, final long gpa, final long wanted)
    {
        window = GrantWindow.forThread();
        final long n = window.map(region.syscalls(), region.grantFd(), region.domid(), gpa, wanted);
        if (n < 0)
        {
            throw new GuestAccessFault("cannot map the grants of buffer gpa=0x" + Long.toHexString(gpa) + " (ref "
                + XenMmap.firstRef(gpa) + ", domid " + region.domid() + "): " + Errno.name((int)-n));
        }
        spanBytes = window.segment();
        spanOffset = gpa & (XenMmap.PAGE_SIZE - 1);
        spanLeft = n;
        windowed = true;
    }
}
