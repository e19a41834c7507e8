package io.jvhost.virtqueue;

import java.util.Objects;

import io.jvhost.memory.GuestMemory;

/**
 * One validated descriptor chain, as popped from a {@link SplitQueue}: its head index and its buffers in order,
 * device-readable ones first, then device-writable ones (indirect tables already flattened).
 * <p>
 * Reused across pops: create one per worker, not per request. The {@link #reader()} and {@link #writer()} views are
 * reset by each pop.
 * <p>
 * The buffers were copied out of the descriptor table while they were validated, so a guest rewriting its
 * descriptors after the pop cannot change what the device reads or writes (no double fetch).
 */
public final class DescriptorChain
{
    private final int maxDescriptors;
    private final long[] addresses;
    private final int[] lengths;
    private final ChainReader reader;
    private final ChainWriter writer;

    private GuestMemory memory;
    private int head = -1;
    private int availIndex = -1;
    private int count;
    private int readableCount;
    private long readableBytes;
    private long writableBytes;

    /**
     * @param maxDescriptors the most buffers a chain may have (pop rejects longer chains).
     */
    public DescriptorChain(final int maxDescriptors)
    {
        if (maxDescriptors < 1)
        {
            throw new IllegalArgumentException("maxDescriptors must be positive, maxDescriptors=" + maxDescriptors);
        }
        this.maxDescriptors = maxDescriptors;
        this.addresses = new long[maxDescriptors];
        this.lengths = new int[maxDescriptors];
        this.reader = new ChainReader(this);
        this.writer = new ChainWriter(this);
    }

    /**
     * @return the most buffers a chain may have.
     */
    public int maxDescriptors()
    {
        return maxDescriptors;
    }

    /**
     * @return the head descriptor index, to pass to {@link SplitQueue#pushUsed}.
     */
    public int head()
    {
        return head;
    }

    /**
     * @return the position in the avail ring (free-running u16) this chain was taken from, as {@link
     *     SplitQueue#rewind} takes it; -1 for a chain that was never popped.
     */
    public int availIndex()
    {
        return availIndex;
    }

    /**
     * @return the number of buffers (after flattening indirect tables).
     */
    public int count()
    {
        return count;
    }

    /**
     * @return guest-physical address of buffer {@code i}.
     */
    public long address(final int i)
    {
        return addresses[Objects.checkIndex(i, count)];
    }

    /**
     * @return length of buffer {@code i}.
     */
    public int length(final int i)
    {
        return lengths[Objects.checkIndex(i, count)];
    }

    /**
     * @return true when buffer {@code i} is device-writable.
     */
    public boolean isWritable(final int i)
    {
        return Objects.checkIndex(i, count) >= readableCount;
    }

    /**
     * @return the number of device-readable buffers (they come first).
     */
    public int readableCount()
    {
        return readableCount;
    }

    /**
     * @return total bytes the device may read.
     */
    public long readableBytes()
    {
        return readableBytes;
    }

    /**
     * @return total bytes the device may write.
     */
    public long writableBytes()
    {
        return writableBytes;
    }

    /**
     * @return the guest memory snapshot the chain was validated against (the readers and writers use it).
     */
    public GuestMemory memory()
    {
        return memory;
    }

    /**
     * @return a cursor over the readable part, positioned at its start by the last pop.
     */
    public ChainReader reader()
    {
        return reader;
    }

    /**
     * @return a cursor over the writable part, positioned at its start by the last pop.
     */
    public ChainWriter writer()
    {
        return writer;
    }

    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder("DescriptorChain[head=").append(head).append(", buffers=[");
        for (int i = 0; i < count; i++)
        {
            sb.append(i == 0 ? "" : ", ").append(i < readableCount ? "R " : "W ")
                .append("0x").append(Long.toHexString(addresses[i])).append('+').append(lengths[i] & 0xFFFF_FFFFL);
        }
        return sb.append("]]").toString();
    }

    /**
     * Makes this chain a copy of {@code other} (same head, buffers and memory; cursors at the start), so a device can
     * keep a request past {@code processQueue} and complete it later, e.g. when an answer it waits for arrives.
     *
     * @throws IllegalArgumentException if {@code other} has more buffers than this chain can hold.
     */
    public void copyFrom(final DescriptorChain other)
    {
        if (other.count > maxDescriptors)
        {
            throw new IllegalArgumentException("chain of " + other.count + " buffers does not fit in "
                + maxDescriptors);
        }
        head = other.head;
        availIndex = other.availIndex;
        memory = other.memory;
        count = other.count;
        readableCount = other.readableCount;
        readableBytes = other.readableBytes;
        writableBytes = other.writableBytes;
        System.arraycopy(other.addresses, 0, addresses, 0, count);
        System.arraycopy(other.lengths, 0, lengths, 0, count);
        resetCursors();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Filled by SplitQueue.pop; the raw arrays are read by the cursors without per-access index checks.

    void reset(final int head, final GuestMemory memory)
    {
        reset(head, -1, memory);
    }

    void reset(final int head, final int availIndex, final GuestMemory memory)
    {
        this.head = head;
        this.availIndex = availIndex;
        this.memory = memory;
        this.count = 0;
        this.readableCount = 0;
        this.readableBytes = 0;
        this.writableBytes = 0;
    }

    /**
     * Appends a buffer; the caller has checked the count against {@link #maxDescriptors} and the order.
     */
    void add(final long address, final int length, final boolean writable)
    {
        final int i = count;
        addresses[i] = address;
        lengths[i] = length;
        count = i + 1;
        if (writable)
        {
            writableBytes += length & 0xFFFF_FFFFL;
        }
        else
        {
            readableCount = i + 1;
            readableBytes += length & 0xFFFF_FFFFL;
        }
    }

    /**
     * Leaves the chain empty after a failed walk, keeping the head for diagnostics.
     */
    void invalidate()
    {
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
        reader.reset();
        writer.reset();
    }

    void resetCursors()
    {
        reader.reset();
        writer.reset();
    }

    long rawAddress(final int i)
    {
        return addresses[i];
    }

    long rawLength(final int i)
    {
        return lengths[i] & 0xFFFF_FFFFL;
    }
}
