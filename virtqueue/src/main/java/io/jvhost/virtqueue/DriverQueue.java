package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;

/**
 * The driver (guest) side of a split virtqueue, over memory the caller owns: what the in-process front-end and the
 * unit tests use to place descriptor chains the way a guest driver would, and to read back used elements.
 * <p>
 * It also exposes raw writers ({@link #writeDescriptor}, {@link #pushAvailRaw}, {@link #setAvailIdx}) so tests can
 * build the hostile rings a broken or malicious guest could make. Single-threaded.
 */
public final class DriverQueue
{
    /**
     * @param ram     the guest RAM this process owns (e.g. a mapped memfd).
     * @param ramGpa  the guest-physical address of {@code ram}'s first byte.
     * @param size    queue size (power of two).
     * @param ringGpa where the rings start (16-aligned); they take {@link #ringBytes(int)} bytes from there.
     */
    public DriverQueue(final MemorySegment ram, final long ramGpa, final int size, final long ringGpa)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return bytes the descriptor table, avail ring and used ring take together, laid out contiguously with the
     *     spec's alignments (16, 2, 4).
     */
    public static long ringBytes(final int size)
    {
        throw new UnsupportedOperationException("TODO");
    }

    public int size()
    {
        throw new UnsupportedOperationException("TODO");
    }

    public long descGpa()
    {
        throw new UnsupportedOperationException("TODO");
    }

    public long availGpa()
    {
        throw new UnsupportedOperationException("TODO");
    }

    public long usedGpa()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * With EVENT_IDX the driver publishes used_event after each {@link #pollUsed} (asking for an interrupt at the
     * next used element) and honours avail_event for kicks.
     */
    public void setEventIdx(final boolean enabled)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Adds a chain: {@code outCount} device-readable buffers then {@code inCount} device-writable ones, taken from
     * {@code gpas}/{@code lengths} in that order. Not visible to the device until {@link #publish()}.
     *
     * @return the head index, or -1 if there are not enough free descriptors.
     */
    public int add(final long[] gpas, final int[] lengths, final int outCount, final int inCount)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Adds a chain as one INDIRECT descriptor whose table is written at {@code tableGpa} (16 bytes per buffer).
     *
     * @return the head index, or -1 if no descriptor is free.
     */
    public int addIndirect(final long tableGpa, final long[] gpas, final int[] lengths, final int outCount,
        final int inCount)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Makes every chain added since the last publish visible (release store of avail.idx).
     */
    public void publish()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return true when the device asked to be kicked for what was published since the previous call (EVENT_IDX:
     *     avail_event rule; otherwise used.flags NO_NOTIFY clear).
     */
    public boolean needsKick()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Takes the next used element, freeing its descriptors.
     *
     * @return {@code (long)id << 32 | (len & 0xffffffffL)}, or -1 when none is pending.
     */
    public long pollUsed()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return descriptors not in use by a pending chain.
     */
    public int freeDescriptors()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the device's used.idx as last published (acquire load).
     */
    public int usedIdx()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the driver's avail.idx.
     */
    public int availIdx()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Raw write of descriptor {@code index}, for hostile tests.
     */
    public void writeDescriptor(final int index, final long addr, final int length, final int flags, final int next)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Raw: puts {@code head} in the next avail slot and publishes it, bypassing descriptor bookkeeping.
     */
    public void pushAvailRaw(final int head)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Raw: stores avail.idx directly (e.g. jump it by more than the queue size).
     */
    public void setAvailIdx(final int idx)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Forgets all pending chains and resets indices to 0 (the driver re-initialising the queue).
     */
    public void reset()
    {
        throw new UnsupportedOperationException("TODO");
    }
}
