package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import io.jvhost.os.NativeException;

/**
 * Drives echo requests through {@link FrontendQueue}s and checks every reply byte for byte.
 * <p>
 * Each queue has a fixed set of slots (an out area and an in area of 64 KiB each); a request takes a free slot,
 * fills the out area with random bytes, splits out and in into 1-3 descriptors each, optionally as an INDIRECT table,
 * and is checked when its used element comes back: used length = request length, the in area holds the bytes sent,
 * and the bytes after them (the writable slack) are untouched. Slots placed across a region boundary (one per
 * boundary of RAM whose regions are adjacent) make buffers span regions.
 */
final class EchoTraffic
{
    static final int MAX_LEN = 64 * 1024;
    private static final int SLACK = 64;
    private static final long AREA = MAX_LEN + 256;
    private static final byte SENTINEL = (byte)0xA5;

    private static final class Slot
    {
        final long outArea;
        final long inArea;
        /** Set for a boundary slot: the region boundary its area straddles. */
        final long boundary;
        final byte[] expected = new byte[MAX_LEN];
        final byte[] actual = new byte[MAX_LEN + SLACK];
        int length;
        long inGpa;
        int inLength;
        boolean indirect;

        Slot(final long outArea, final long inArea, final long boundary)
        {
            this.outArea = outArea;
            this.inArea = inArea;
            this.boundary = boundary;
        }
    }

    private final GuestRam ram;
    private final FrontendQueue[] queues;
    private final SplittableRandom random;
    private final boolean useIndirect;
    private final Slot[][] slots;
    private final int[][] free;
    private final int[] freeCount;
    private final Slot[][] slotOfHead;
    private final long[] gpas = new long[6];
    private final int[] lengths = new int[6];
    private final long[] submitted;
    private final long[] completed;
    private long indirectRequests;
    private long spanningRequests;
    private long totalBytes;

    /**
     * Allocates {@code slotsPerQueue} slots per queue in {@code ram}, plus the boundary slots.
     */
    EchoTraffic(final GuestRam ram, final List<FrontendQueue> queueList, final int slotsPerQueue, final long seed,
        final boolean useIndirect)
    {
        this.ram = ram;
        this.queues = queueList.toArray(new FrontendQueue[0]);
        this.random = new SplittableRandom(seed);
        this.useIndirect = useIndirect;
        final int n = queues.length;
        final List<Long> boundaries = new ArrayList<>();
        for (int i = 0; i + 1 < ram.regionCount(); i++)
        {
            if (ram.region(i).guestPhysEnd() == ram.region(i + 1).guestPhysAddr())
            {
                boundaries.add(ram.region(i + 1).guestPhysAddr());
            }
        }
        final int[] perQueueBoundary = new int[n];
        for (int b = 0; b < boundaries.size(); b++)
        {
            perQueueBoundary[b % n]++;
        }
        slots = new Slot[n][];
        free = new int[n][];
        freeCount = new int[n];
        slotOfHead = new Slot[n][];
        submitted = new long[n];
        completed = new long[n];
        for (int q = 0; q < n; q++)
        {
            slots[q] = new Slot[slotsPerQueue + perQueueBoundary[q]];
            free[q] = new int[slots[q].length];
            slotOfHead[q] = new Slot[queues[q].size()];
            for (int s = 0; s < slotsPerQueue; s++)
            {
                slots[q][s] = new Slot(ram.allocate(AREA, 64), ram.allocate(AREA, 64), -1);
            }
        }
        // Boundary areas last: [b - 128K, b + 128K) around each boundary the allocator has not passed yet.
        int b = 0;
        for (final long boundary : boundaries)
        {
            final int q = b % n;
            final int s = slotsPerQueue + b / n;
            if (boundary - 2 * AREA >= ram.nextFree() && ram.isRam(boundary - 2 * AREA, 4 * AREA))
            {
                final long area = ram.allocateAt(boundary - 2 * AREA, 4 * AREA);
                slots[q][s] = new Slot(area, area + 2 * AREA, boundary);
            }
            b++;
        }
        for (int q = 0; q < n; q++)
        {
            for (int s = 0; s < slots[q].length; s++)
            {
                if (null != slots[q][s])
                {
                    free[q][freeCount[q]++] = s;
                }
            }
        }
    }

    /**
     * Sends {@code total} requests spread over the queues, keeping every slot busy, and checks every reply.
     */
    void run(final long total, final Duration perWait) throws NativeException
    {
        long sent = 0;
        long done = 0;
        final long waitNanos = perWait.toNanos();
        while (done < total)
        {
            for (int q = 0; q < queues.length; q++)
            {
                boolean any = false;
                while (sent < total && freeCount[q] > 0 && submit(q))
                {
                    sent++;
                    any = true;
                }
                if (any)
                {
                    queues[q].publishAndKick();
                }
            }
            for (int q = 0; q < queues.length; q++)
            {
                if (queues[q].inFlight() == 0)
                {
                    continue;
                }
                final int got = queues[q].awaitUsed(waitNanos);
                if (got == 0)
                {
                    throw new AssertionError("queue " + q + ": no used buffer within " + perWait + " with "
                        + queues[q].inFlight() + " in flight (" + done + " of " + total + " done)");
                }
                for (int i = 0; i < got; i++)
                {
                    complete(q, queues[q].usedHead(i), queues[q].usedLength(i));
                    done++;
                }
            }
        }
    }

    /**
     * Waits until every request in flight has come back (and checks them).
     */
    void drain(final Duration perWait) throws NativeException
    {
        for (int q = 0; q < queues.length; q++)
        {
            while (queues[q].inFlight() > 0)
            {
                final int got = queues[q].awaitUsed(perWait);
                if (got == 0)
                {
                    throw new AssertionError("queue " + q + ": " + queues[q].inFlight() + " requests never came back");
                }
                for (int i = 0; i < got; i++)
                {
                    complete(q, queues[q].usedHead(i), queues[q].usedLength(i));
                }
            }
        }
    }

    /**
     * Adds (does not publish) one request on queue {@code q}.
     *
     * @return false if the ring had no room.
     */
    boolean submit(final int q)
    {
        final int s = free[q][--freeCount[q]];
        final Slot slot = slots[q][s];
        final int n = randomLength();
        fillRandom(slot.expected, n);
        long out = slot.outArea;
        long in = slot.inArea;
        if (slot.boundary >= 0 && n >= 2)
        {
            final long b = slot.boundary;
            if (random.nextBoolean())
            {
                out = b - random.nextInt(1, n);
                in = out + n + SLACK;
            }
            else
            {
                in = b - random.nextInt(1, n);
                out = slot.outArea;
            }
            spanningRequests++;
        }
        final int slack = random.nextInt(SLACK + 1);
        slot.length = n;
        slot.inGpa = in;
        slot.inLength = n + slack;
        ram.write(out, slot.expected, 0, n);
        if (slack > 0)
        {
            ram.fill(in + n, slack, SENTINEL);
        }
        final int outCount = Math.min(n, random.nextInt(1, 4));
        final int inCount = Math.min(slot.inLength, random.nextInt(1, 4));
        split(out, n, 0, outCount);
        split(in, slot.inLength, outCount, inCount);
        slot.indirect = useIndirect && random.nextInt(4) == 0;
        final int head = slot.indirect
            ? queues[q].addIndirect(gpas, lengths, outCount, inCount)
            : queues[q].add(gpas, lengths, outCount, inCount);
        if (head < 0)
        {
            freeCount[q]++;
            return false;
        }
        if (slot.indirect)
        {
            indirectRequests++;
        }
        if (null != slotOfHead[q][head])
        {
            throw new AssertionError("queue " + q + ": head " + head + " handed out twice");
        }
        slotOfHead[q][head] = slot;
        submitted[q]++;
        totalBytes += n;
        return true;
    }

    private void split(final long gpa, final int length, final int first, final int count)
    {
        long at = gpa;
        int left = length;
        for (int i = 0; i < count; i++)
        {
            final int piece = i == count - 1 ? left : random.nextInt(1, left - (count - 1 - i) + 1);
            gpas[first + i] = at;
            lengths[first + i] = piece;
            at += piece;
            left -= piece;
        }
    }

    private int randomLength()
    {
        final int r = random.nextInt(100);
        if (r < 3)
        {
            return r == 0 ? 1 : MAX_LEN;
        }
        if (r < 15)
        {
            return random.nextInt(1, 17);
        }
        if (r < 45)
        {
            return random.nextInt(17, 4097);
        }
        if (r < 75)
        {
            return random.nextInt(4097, 32769);
        }
        return random.nextInt(32769, MAX_LEN + 1);
    }

    private void fillRandom(final byte[] bytes, final int n)
    {
        final MemorySegment seg = MemorySegment.ofArray(bytes);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
        }
        for (; i < n; i++)
        {
            bytes[i] = (byte)random.nextInt();
        }
    }

    /**
     * Checks one used element of queue {@code q}.
     */
    void complete(final int q, final int head, final int usedLength)
    {
        if (queues[q].missedNotifications() > 0)
        {
            throw new AssertionError("queue " + q + ": the device returned buffers without signalling the call"
                + " eventfd (" + queues[q].missedNotifications() + " time(s))");
        }
        if (head < 0 || head >= slotOfHead[q].length || null == slotOfHead[q][head])
        {
            throw new AssertionError("queue " + q + ": used element for head " + head + " that is not in flight");
        }
        final Slot slot = slotOfHead[q][head];
        slotOfHead[q][head] = null;
        final String what = "queue " + q + " head " + head + " length " + slot.length
            + (slot.boundary >= 0 ? " (across the region boundary)" : "") + (slot.indirect ? " (indirect)" : "");
        if (usedLength != slot.length)
        {
            throw new AssertionError(what + ": used length " + usedLength);
        }
        ram.read(slot.inGpa, slot.actual, 0, slot.inLength);
        final int mismatch = Arrays.mismatch(slot.expected, 0, slot.length, slot.actual, 0, slot.length);
        if (mismatch >= 0)
        {
            throw new AssertionError(what + ": echoed bytes differ from byte " + mismatch);
        }
        for (int i = slot.length; i < slot.inLength; i++)
        {
            if (slot.actual[i] != SENTINEL)
            {
                throw new AssertionError(what + ": device wrote past the echoed bytes at " + i);
            }
        }
        for (int s = 0; s < slots[q].length; s++)
        {
            if (slots[q][s] == slot)
            {
                free[q][freeCount[q]++] = s;
                break;
            }
        }
        completed[q]++;
    }

    long submitted(final int q)
    {
        return submitted[q];
    }

    long completed(final int q)
    {
        return completed[q];
    }

    long indirectRequests()
    {
        return indirectRequests;
    }

    long spanningRequests()
    {
        return spanningRequests;
    }

    long totalBytes()
    {
        return totalBytes;
    }
}
