package io.jvhost.virtqueue;

/**
 * One validated descriptor chain, as popped from a {@link SplitQueue}: its head index and its buffers in order,
 * device-readable ones first, then device-writable ones (indirect tables already flattened).
 * <p>
 * Reused across pops: create one per worker, not per request. The {@link #reader()} and {@link #writer()} views are
 * reset by each pop.
 */
public final class DescriptorChain
{
    /**
     * @param maxDescriptors the most buffers a chain may have (pop rejects longer chains).
     */
    public DescriptorChain(final int maxDescriptors)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the head descriptor index, to pass to {@link SplitQueue#pushUsed}.
     */
    public int head()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the number of buffers (after flattening indirect tables).
     */
    public int count()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return guest-physical address of buffer {@code i}.
     */
    public long address(final int i)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return length of buffer {@code i}.
     */
    public int length(final int i)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return true when buffer {@code i} is device-writable.
     */
    public boolean isWritable(final int i)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the number of device-readable buffers (they come first).
     */
    public int readableCount()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return total bytes the device may read.
     */
    public long readableBytes()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return total bytes the device may write.
     */
    public long writableBytes()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return a cursor over the readable part, positioned at its start by the last pop.
     */
    public ChainReader reader()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return a cursor over the writable part, positioned at its start by the last pop.
     */
    public ChainWriter writer()
    {
        throw new UnsupportedOperationException("TODO");
    }
}
