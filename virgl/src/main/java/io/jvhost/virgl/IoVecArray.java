package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Flyweight over a native array of {@code struct iovec}: the guest pages backing a resource, or a host buffer for
 * a readback. Filled entry by entry and reused (no allocation per call).
 * <pre>
 * struct iovec (16 bytes) x capacity
 *  0                  8                  16                 24                 32
 *  +------------------+------------------+------------------+------------------+---
 *  | iov_base [0]     | iov_len [0]      | iov_base [1]     | iov_len [1]      | ...
 *  +------------------+------------------+------------------+------------------+---
 * </pre>
 * The bases are raw addresses: virglrenderer reads and writes through them with no bounds of its own beyond the
 * lengths given here, so whoever fills the array answers for every entry pointing into live, mapped memory of at
 * least that length. {@link VirglRenderer#resourceAttachIov} copies the entries into an array of its own, which
 * virglrenderer keeps until detach.
 */
public final class IoVecArray
{
    /** Size of one {@code struct iovec}. */
    public static final int ENTRY_SIZE = 16;

    private static final long BASE = 0;
    private static final long LENGTH = 8;

    private final MemorySegment segment;
    private final int capacity;
    private int count;

    /**
     * @param arena    where the array lives; it must stay open while the flyweight is used.
     * @param capacity how many entries it can hold (at least 1).
     */
    public IoVecArray(final Arena arena, final int capacity)
    {
        if (capacity < 1)
        {
            throw new IllegalArgumentException("iovec capacity " + capacity + " < 1");
        }
        this.segment = arena.allocate((long)capacity * ENTRY_SIZE, 8);
        this.capacity = capacity;
    }

    /**
     * @return the native array (all {@link #capacity()} entries).
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * @return how many entries the array can hold.
     */
    public int capacity()
    {
        return capacity;
    }

    /**
     * @return how many entries are in use (passed to virglrenderer).
     */
    public int count()
    {
        return count;
    }

    /**
     * @param count how many entries, from 0, are in use.
     * @return this.
     */
    public IoVecArray count(final int count)
    {
        Objects.checkIndex(count, capacity + 1);
        this.count = count;
        return this;
    }

    /**
     * Sets entry {@code index} to {@code length} bytes at the raw address {@code base}.
     *
     * @return this.
     */
    public IoVecArray set(final int index, final long base, final long length)
    {
        Objects.checkIndex(index, capacity);
        if (length < 0)
        {
            throw new IllegalArgumentException("iovec " + index + " length " + length + " < 0");
        }
        segment.set(JAVA_LONG, (long)index * ENTRY_SIZE + BASE, base);
        segment.set(JAVA_LONG, (long)index * ENTRY_SIZE + LENGTH, length);
        return this;
    }

    /**
     * Makes the array one entry covering the whole of a native segment.
     *
     * @return this.
     */
    public IoVecArray single(final MemorySegment buffer)
    {
        if (!buffer.isNative())
        {
            throw new IllegalArgumentException("an iovec needs native memory, not a heap segment");
        }
        set(0, buffer.address(), buffer.byteSize());
        count = 1;
        return this;
    }

    public long base(final int index)
    {
        Objects.checkIndex(index, capacity);
        return segment.get(JAVA_LONG, (long)index * ENTRY_SIZE + BASE);
    }

    public long length(final int index)
    {
        Objects.checkIndex(index, capacity);
        return segment.get(JAVA_LONG, (long)index * ENTRY_SIZE + LENGTH);
    }

    /**
     * @return the sum of the lengths of the entries in use.
     */
    public long totalLength()
    {
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += length(i);
        }
        return total;
    }
}
