package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;

/**
 * The guest pages behind a resource (RESOURCE_ATTACH_BACKING or a guest blob's entries), seen as one byte stream:
 * backing offset 0 is the first byte of entry 0, entries follow each other.
 * <p>
 * For copying, the entries are resolved once per {@link GuestMemory} snapshot into host spans: the largest pieces
 * contiguous in this process (neighbouring entries merged, an entry crossing a region boundary split). A copy then
 * costs one {@link MemorySegment#copy} per span it touches, with no lookup per row. Not thread-safe (the device lock
 * guards it).
 */
final class Backing
{
    private final long[] addresses;
    private final long[] lengths;
    private final long size;

    private GuestMemory resolvedFor;
    private int spanCount;
    /** spanStart[i] = backing offset of span i; spanStart[spanCount] = size. */
    private long[] spanStart = new long[0];
    private MemorySegment[] spanBytes = new MemorySegment[0];
    private long[] spanHostOffset = new long[0];
    /** The span the last copy ended in: rows are copied in increasing order. */
    private int hint;

    /**
     * @param addresses guest-physical addresses, validated by the caller against the current snapshot.
     * @param lengths   entry lengths (u32 values).
     */
    Backing(final long[] addresses, final long[] lengths)
    {
        this.addresses = addresses;
        this.lengths = lengths;
        long total = 0;
        for (final long length : lengths)
        {
            total += length;
        }
        this.size = total;
    }

    /**
     * @return the number of guest entries.
     */
    int entries()
    {
        return addresses.length;
    }

    /**
     * @return total bytes of the backing.
     */
    long size()
    {
        return size;
    }

    /**
     * @return host spans after the last resolve (for tests: coalescing).
     */
    int spanCount()
    {
        return spanCount;
    }

    /**
     * Maps the entries into {@code memory} unless already done for this very snapshot.
     *
     * @return false if an entry is no longer guest memory (the map changed under the resource).
     */
    boolean resolve(final GuestMemory memory)
    {
        if (memory == resolvedFor)
        {
            return true;
        }
        resolvedFor = null;
        spanCount = 0;
        hint = 0;
        long position = 0;
        for (int e = 0; e < addresses.length; e++)
        {
            long gpa = addresses[e];
            long left = lengths[e];
            while (left > 0)
            {
                final int index = memory.regionIndexOf(gpa);
                // Backings are used in place: a Xen grant region mapped per access (no bytes of its own) cannot be.
                if (index < 0 || memory.region(index).isMappedOnAccess())
                {
                    spanCount = 0;
                    return false;
                }
                final MemoryRegion region = memory.region(index);
                final long n = Math.min(left, region.guestPhysEnd() - gpa);
                final long hostOffset = gpa - region.guestPhysAddr();
                final int last = spanCount - 1;
                // A piece that continues the previous span in the same mapping just extends it (its end is the
                // next span's start, or the final position).
                if (last < 0 || spanBytes[last] != region.bytes()
                    || spanHostOffset[last] + (position - spanStart[last]) != hostOffset)
                {
                    addSpan(position, region.bytes(), hostOffset);
                }
                gpa += n;
                left -= n;
                position += n;
            }
        }
        ensureCapacity(spanCount + 1);
        spanStart[spanCount] = position;
        resolvedFor = memory;
        return true;
    }

    private void addSpan(final long start, final MemorySegment bytes, final long hostOffset)
    {
        ensureCapacity(spanCount + 2);
        spanStart[spanCount] = start;
        spanBytes[spanCount] = bytes;
        spanHostOffset[spanCount] = hostOffset;
        spanCount++;
    }

    private void ensureCapacity(final int n)
    {
        if (spanStart.length < n)
        {
            final int capacity = Math.max(n, Math.max(8, spanStart.length * 2));
            spanStart = Arrays.copyOf(spanStart, capacity);
            spanBytes = Arrays.copyOf(spanBytes, capacity);
            spanHostOffset = Arrays.copyOf(spanHostOffset, capacity);
        }
    }

    /**
     * Copies {@code length} bytes from backing offset {@code offset} into {@code dst}. The caller has resolved the
     * backing and checked {@code offset + length <= size()}.
     */
    void copyTo(final long offset, final MemorySegment dst, final long dstOffset, final long length)
    {
        int span = spanOf(offset);
        long at = offset;
        long done = 0;
        while (done < length)
        {
            final long inSpan = at - spanStart[span];
            final long n = Math.min(length - done, spanStart[span + 1] - at);
            MemorySegment.copy(spanBytes[span], spanHostOffset[span] + inSpan, dst, dstOffset + done, n);
            done += n;
            at += n;
            if (done < length)
            {
                span++;
            }
        }
        hint = span;
    }

    /**
     * @return the span holding all of {@code [offset, offset + length)}, or -1 if the range crosses spans. Only after
     *     a successful {@link #resolve}, with the range inside the backing.
     */
    int spanHolding(final long offset, final long length)
    {
        if (0 == spanCount)
        {
            return -1;
        }
        final int span = spanOf(offset);
        return offset + length <= spanStart[span + 1] ? span : -1;
    }

    /**
     * @return the mapping span {@code span} lies in.
     */
    MemorySegment spanBytes(final int span)
    {
        return spanBytes[span];
    }

    /**
     * @return where backing offset {@code offset} (inside {@code span}) sits in {@link #spanBytes}.
     */
    long hostOffset(final int span, final long offset)
    {
        return spanHostOffset[span] + (offset - spanStart[span]);
    }

    /**
     * @return the host address where span {@code span} starts, after a successful {@link #resolve}.
     */
    long spanAddress(final int span)
    {
        return spanBytes[span].address() + spanHostOffset[span];
    }

    /**
     * @return the bytes of span {@code span}, after a successful {@link #resolve}.
     */
    long spanLength(final int span)
    {
        return spanStart[span + 1] - spanStart[span];
    }

    /**
     * @return the span holding backing offset {@code offset} (which must be below {@link #size()}).
     */
    private int spanOf(final long offset)
    {
        final int h = hint;
        if (h < spanCount && spanStart[h] <= offset && offset < spanStart[h + 1])
        {
            return h;
        }
        int lo = 0;
        int hi = spanCount - 1;
        while (lo < hi)
        {
            final int mid = (lo + hi + 1) >>> 1;
            if (spanStart[mid] <= offset)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return lo;
    }
}
