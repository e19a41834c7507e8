package io.jvhost.device.input;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A bounded, lock-free multi-producer queue of input events that never blocks a producer: when it is full the
 * oldest events are dropped (and counted) to make room. Each event is one {@code long} laid out exactly as
 * {@code struct virtio_input_event} read little-endian, so the consumer writes it to the guest in one store:
 * <pre>
 *   bits 0..15   type     (le16 type at byte 0)
 *   bits 16..31  code     (le16 code at byte 2)
 *   bits 32..63  value    (le32 value at byte 4)
 * </pre>
 * The algorithm is Vyukov's bounded MPMC queue (a sequence number per slot, CAS on the head and on the tail); a
 * producer that finds the queue full takes the oldest entries off the head itself, exactly as a consumer would,
 * so drops and consumption never race for a slot. A drop removes the oldest <em>report</em> when it can: entries up
 * to and including the first {@code EV_SYN/SYN_REPORT}, at most {@link #MAX_DROP_RUN} of them, so the guest sees
 * whole reports rather than halves (a key press without its SYN_REPORT would only reach the guest's applications
 * with the next report).
 * <p>
 * Allocation-free after construction. A sentinel, {@link #EMPTY}, is never a valid event (its type is 0xffff, above
 * {@code EV_MAX}); {@link #pack} refuses types above {@code EV_MAX}.
 */
public final class EventRing
{
    /** Returned by {@link #poll()} when there is nothing to take. */
    public static final long EMPTY = -1L;
    /** The most entries one drop removes while looking for the end of the oldest report. */
    public static final int MAX_DROP_RUN = 64;

    private static final long SYN_REPORT_EVENT = pack(InputSink.EV_SYN, InputSink.SYN_REPORT, 0);

    private final int capacity;
    private final int mask;
    private final long[] events;
    private final AtomicLongArray sequences;
    private final AtomicLong head = new AtomicLong();
    private final AtomicLong tail = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();

    /**
     * @param capacity events held, a power of two from 2 to 2^20.
     */
    public EventRing(final int capacity)
    {
        if (capacity < 2 || capacity > 1 << 20 || 0 != (capacity & (capacity - 1)))
        {
            throw new IllegalArgumentException("event buffer capacity must be a power of two from 2 to " + (1 << 20)
                + ", got " + capacity);
        }
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.events = new long[capacity];
        this.sequences = new AtomicLongArray(capacity);
        for (int i = 0; i < capacity; i++)
        {
            sequences.set(i, i);
        }
    }

    /**
     * @return {@code struct virtio_input_event} as a little-endian long.
     * @throws IllegalArgumentException when a value does not fit its field or the type is above EV_MAX.
     */
    public static long pack(final int type, final int code, final int value)
    {
        if (type < 0 || type > InputCodes.EV_MAX || code < 0 || code > 0xFFFF)
        {
            throw new IllegalArgumentException("input event type must be 0..0x1f and code 0..0xffff, got type 0x"
                + Integer.toHexString(type) + " code 0x" + Integer.toHexString(code));
        }
        return type | (long)code << 16 | (long)value << 32;
    }

    public static int type(final long event)
    {
        return (int)event & 0xFFFF;
    }

    public static int code(final long event)
    {
        return (int)(event >>> 16) & 0xFFFF;
    }

    public static int value(final long event)
    {
        return (int)(event >>> 32);
    }

    public int capacity()
    {
        return capacity;
    }

    /**
     * Adds an event, dropping the oldest when full. Any thread; never blocks.
     *
     * @param event from {@link #pack}.
     */
    public void offer(final long event)
    {
        while (true)
        {
            final long pos = tail.get();
            final int slot = (int)pos & mask;
            final long diff = sequences.getAcquire(slot) - pos;
            if (diff == 0)
            {
                if (tail.compareAndSet(pos, pos + 1))
                {
                    events[slot] = event;
                    sequences.setRelease(slot, pos + 1);
                    return;
                }
            }
            else if (diff < 0)
            {
                dropOldest();
            }
            // diff > 0: another producer took the slot; read the tail again.
        }
    }

    private void dropOldest()
    {
        for (int i = 0; i < MAX_DROP_RUN; i++)
        {
            final long e = poll();
            if (e == EMPTY)
            {
                return;
            }
            dropped.incrementAndGet();
            if (e == SYN_REPORT_EVENT)
            {
                return;
            }
        }
    }

    /**
     * Takes the oldest event. Any thread (the device's worker, or a producer dropping).
     *
     * @return the event, or {@link #EMPTY}.
     */
    public long poll()
    {
        while (true)
        {
            final long pos = head.get();
            final int slot = (int)pos & mask;
            final long diff = sequences.getAcquire(slot) - (pos + 1);
            if (diff == 0)
            {
                if (head.compareAndSet(pos, pos + 1))
                {
                    final long e = events[slot];
                    sequences.setRelease(slot, pos + capacity);
                    return e;
                }
            }
            else if (diff < 0)
            {
                return EMPTY;
            }
        }
    }

    /**
     * Drops every queued event without counting it as dropped (e.g. the guest driver started afresh).
     *
     * @return how many were discarded.
     */
    public int clear()
    {
        int n = 0;
        while (poll() != EMPTY)
        {
            n++;
        }
        return n;
    }

    /**
     * @return events queued now (a snapshot; may be stale by the time it is read).
     */
    public int size()
    {
        final long h = head.get();
        final long t = tail.get();
        return (int)Math.max(0, Math.min(capacity, t - h));
    }

    /**
     * @return events dropped because the queue was full.
     */
    public long dropped()
    {
        return dropped.get();
    }
}
