package io.jvhost.device.media;

import io.jvhost.device.media.wire.V4l2Buffer;

/**
 * The capture buffers a back-end has filled and not yet handed to the guest as DQBUF events: a ring per session slot,
 * oldest first, taken round-robin over the sessions so that one busy stream does not starve another. What it keeps
 * of a buffer is what its event says (index, sequence, bytes used, flags, field, timestamp); the back-end's own
 * bookkeeping (the buffer's state, its length and user pointer) stays with the back-end.
 * <p>
 * Fixed arrays sized once: adding and taking allocate nothing. Not thread-safe: the worker that serves the device's
 * queues uses it.
 */
final class DoneBuffers
{
    private final int sessions;
    private final int buffers;
    private final int[] index;
    private final int[] sequence;
    private final int[] bytesused;
    private final int[] flags;
    private final int[] field;
    private final long[] seconds;
    private final long[] micros;
    private final int[] head;
    private final int[] count;
    /** Where the next round-robin search starts. */
    private int nextSession;
    private int pending;

    /**
     * @param sessions the number of session slots.
     * @param buffers  the most buffers a session has, and so the most it can have done at once.
     */
    DoneBuffers(final int sessions, final int buffers)
    {
        this.sessions = sessions;
        this.buffers = buffers;
        final int n = sessions * buffers;
        this.index = new int[n];
        this.sequence = new int[n];
        this.bytesused = new int[n];
        this.flags = new int[n];
        this.field = new int[n];
        this.seconds = new long[n];
        this.micros = new long[n];
        this.head = new int[sessions];
        this.count = new int[sessions];
    }

    /**
     * Appends buffer {@code bufferIndex} of session {@code slot}, done, to that session's ring. A session has each of
     * its buffers done at most once before it is taken or cleared, so its ring never holds more than {@code buffers}.
     */
    void add(final int slot, final int bufferIndex, final int seq, final int bytes, final int bufferFlags,
        final int bufferField, final long timestampSeconds, final long timestampMicros)
    {
        final int d = slot * buffers + (head[slot] + count[slot]) % buffers;
        index[d] = bufferIndex;
        sequence[d] = seq;
        bytesused[d] = bytes;
        flags[d] = bufferFlags;
        field[d] = bufferField;
        seconds[d] = timestampSeconds;
        micros[d] = timestampMicros;
        count[slot]++;
        pending++;
    }

    /** Forgets session {@code slot}'s done buffers (its stream stopped, its buffers were freed, it closed). */
    void clear(final int slot)
    {
        pending -= count[slot];
        count[slot] = 0;
        head[slot] = 0;
    }

    /**
     * @return how many buffers session {@code slot} has done.
     */
    int count(final int slot)
    {
        return count[slot];
    }

    /**
     * @return whether any session has a done buffer.
     */
    boolean any()
    {
        return pending > 0;
    }

    /**
     * Takes the oldest done buffer of the next session that has one after the last taken from, and writes its event
     * into {@code out}: index, {@code type} capture, bytes used, flags, field, timestamp, sequence, memory USERPTR
     * (the rest of {@code out} cleared; the caller adds the length and user pointer).
     *
     * @return the session's slot, or -1 when no session has a done buffer ({@code out} untouched).
     */
    int take(final V4l2Buffer out)
    {
        if (pending == 0)
        {
            return -1;
        }
        for (int k = 0; k < sessions; k++)
        {
            final int slot = (nextSession + k) % sessions;
            if (count[slot] == 0)
            {
                continue;
            }
            nextSession = (slot + 1) % sessions;
            final int d = slot * buffers + head[slot];
            head[slot] = (head[slot] + 1) % buffers;
            count[slot]--;
            pending--;
            out.clear().index(index[d]).type(V4l2.BUF_TYPE_VIDEO_CAPTURE).bytesused(bytesused[d]).flags(flags[d])
                .field(field[d]).timestamp(seconds[d], micros[d]).sequence(sequence[d])
                .memory(V4l2.MEMORY_USERPTR);
            return slot;
        }
        return -1;
    }
}
