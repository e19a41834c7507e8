package io.jvhost.device.sound;

import io.jvhost.virtqueue.DescriptorChain;

/**
 * A stream's I/O messages in arrival order, waiting to be consumed or produced: a fixed ring of {@link HeldIo}
 * allocated once (as many as the queue can hold), so holding and completing a message allocates nothing.
 */
final class HeldQueue
{
    private final HeldIo[] ring;
    private int head;
    private int count;
    private long bytes;

    HeldQueue(final int capacity, final int maxDescriptors)
    {
        ring = new HeldIo[capacity];
        for (int i = 0; i < capacity; i++)
        {
            ring[i] = new HeldIo(maxDescriptors);
        }
    }

    boolean isEmpty()
    {
        return count == 0;
    }

    boolean isFull()
    {
        return count == ring.length;
    }

    int size()
    {
        return count;
    }

    /**
     * @return payload bytes of every held message.
     */
    long bytes()
    {
        return bytes;
    }

    /**
     * Holds a copy of {@code chain} at the tail. The caller checked {@link #isFull()}.
     */
    void add(final DescriptorChain chain, final long payload)
    {
        final HeldIo io = ring[(head + count) % ring.length];
        io.chain.copyFrom(chain);
        io.payload = payload;
        count++;
        bytes += payload;
    }

    /**
     * @return the oldest message (still held).
     */
    HeldIo peek()
    {
        return ring[head];
    }

    /**
     * @return the {@code i}-th oldest message ({@code i} below {@link #size()}).
     */
    HeldIo get(final int i)
    {
        return ring[(head + i) % ring.length];
    }

    /**
     * Drops the oldest message.
     */
    void remove()
    {
        bytes -= ring[head].payload;
        head = (head + 1) % ring.length;
        count--;
    }

    /**
     * Forgets every message (their ring is gone: a reset or a stopped queue).
     */
    void clear()
    {
        head = 0;
        count = 0;
        bytes = 0;
    }
}
