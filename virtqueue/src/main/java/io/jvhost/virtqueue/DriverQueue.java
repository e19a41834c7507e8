package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_FLAGS_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_F_NO_INTERRUPT;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_IDX_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_ADDR_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_FLAGS_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_INDIRECT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_NEXT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_WRITE;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_LEN_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_NEXT_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_SIZE;
import static io.jvhost.virtqueue.SplitRingLayout.U16;
import static io.jvhost.virtqueue.SplitRingLayout.U16_HANDLE;
import static io.jvhost.virtqueue.SplitRingLayout.U16_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U32;
import static io.jvhost.virtqueue.SplitRingLayout.U32_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.U64;
import static io.jvhost.virtqueue.SplitRingLayout.U64_UNALIGNED;
import static io.jvhost.virtqueue.SplitRingLayout.USED_FLAGS_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.USED_F_NO_NOTIFY;
import static io.jvhost.virtqueue.SplitRingLayout.USED_IDX_OFFSET;

/**
 * The driver (guest) side of a split virtqueue, over memory the caller owns: what the in-process front-end and the
 * unit tests use to place descriptor chains the way a guest driver would, and to read back used elements.
 * <p>
 * It also exposes raw writers ({@link #writeDescriptor}, {@link #pushAvailRaw}, {@link #setAvailIdx},
 * {@link #writeTableEntry}, {@link #setAvailFlags}, {@link #setUsedEvent}) so tests can build the hostile rings a
 * broken or malicious guest could make. Single-threaded; allocation-free after construction.
 * <p>
 * Rings are laid out contiguously from {@code ringGpa}:
 * <pre>
 *  ringGpa                      descriptor table   16 * size
 *  + 16 * size                  avail ring         6 + 2 * size (with used_event)
 *  + align4(18 * size + 6)      used ring          6 + 8 * size (with avail_event)
 * </pre>
 * Free descriptors are kept in a private stack and the chains' links in a private shadow of {@code next}, like
 * Linux's {@code desc_extra}: the driver never trusts what the device could have written into shared memory.
 */
public final class DriverQueue
{
    private final MemorySegment ram;
    private final long ramGpa;
    private final int size;
    private final int mask;
    private final long descGpa;
    private final long availGpa;
    private final long usedGpa;
    private final MemorySegment rings;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    private final long availEventOffset;

    private final int[] freeStack;
    private int freeCount;
    /** chainNext[d] = next descriptor of d's chain (driver-private copy). */
    private final int[] chainNext;
    /** chainLength[head] = descriptors the pending chain at head holds, 0 when head is not pending. */
    private final int[] chainLength;

    private boolean eventIdx;
    /** Where the next added chain goes (u16, may be ahead of what is published). */
    private int nextAvailIdx;
    /** avail.idx as last stored. */
    private int publishedAvail;
    /** avail.idx at the last {@link #needsKick()}. */
    private int kickedAvail;
    /** Next used element to consume (u16). */
    private int lastUsed;
    /** Last used.idx read. */
    private int shadowUsed;

    /**
     * @param ram     the guest RAM this process owns (e.g. a mapped memfd); native memory.
     * @param ramGpa  the guest-physical address of {@code ram}'s first byte.
     * @param size    queue size (power of two).
     * @param ringGpa where the rings start (16-aligned); they take {@link #ringBytes(int)} bytes from there.
     */
    public DriverQueue(final MemorySegment ram, final long ramGpa, final int size, final long ringGpa)
    {
        if (size < 1 || size > SplitQueue.MAX_SIZE || 0 != (size & (size - 1)))
        {
            throw new IllegalArgumentException("queue size must be a power of two from 1 to " + SplitQueue.MAX_SIZE
                + ", size=" + size);
        }
        if (0 != (ringGpa & (SplitRingLayout.DESC_ALIGN - 1)))
        {
            throw new IllegalArgumentException("ring address must be 16-aligned, ringGpa=0x"
                + Long.toHexString(ringGpa));
        }
        final long offset = ringGpa - ramGpa;
        final long bytes = ringBytes(size);
        if (ringGpa < ramGpa || offset > ram.byteSize() - bytes)
        {
            throw new IllegalArgumentException("rings outside the RAM: ringGpa=0x" + Long.toHexString(ringGpa)
                + ", ringBytes=" + bytes + ", ramGpa=0x" + Long.toHexString(ramGpa) + ", ramSize=" + ram.byteSize());
        }
        this.ram = ram;
        this.ramGpa = ramGpa;
        this.size = size;
        this.mask = size - 1;
        final long availOff = SplitRingLayout.descTableBytes(size);
        final long usedOff = alignUsed(availOff + SplitRingLayout.availRingBytes(size, true));
        this.descGpa = ringGpa;
        this.availGpa = ringGpa + availOff;
        this.usedGpa = ringGpa + usedOff;
        this.rings = ram.asSlice(offset, bytes);
        this.desc = rings.asSlice(0, availOff);
        this.avail = rings.asSlice(availOff, SplitRingLayout.availRingBytes(size, true));
        this.used = rings.asSlice(usedOff, SplitRingLayout.usedRingBytes(size, true));
        this.usedEventOffset = SplitRingLayout.usedEventOffset(size);
        this.availEventOffset = SplitRingLayout.availEventOffset(size);
        this.freeStack = new int[size];
        this.chainNext = new int[size];
        this.chainLength = new int[size];
        reset();
    }

    private static long alignUsed(final long offset)
    {
        return (offset + SplitRingLayout.USED_ALIGN - 1) & -SplitRingLayout.USED_ALIGN;
    }

    /**
     * @return bytes the descriptor table, avail ring and used ring take together, laid out contiguously with the
     *     spec's alignments (16, 2, 4), event fields included.
     */
    public static long ringBytes(final int size)
    {
        final long availOff = SplitRingLayout.descTableBytes(size);
        return alignUsed(availOff + SplitRingLayout.availRingBytes(size, true))
            + SplitRingLayout.usedRingBytes(size, true);
    }

    /**
     * @return queue size.
     */
    public int size()
    {
        return size;
    }

    /**
     * @return guest-physical address of the descriptor table.
     */
    public long descGpa()
    {
        return descGpa;
    }

    /**
     * @return guest-physical address of the avail ring.
     */
    public long availGpa()
    {
        return availGpa;
    }

    /**
     * @return guest-physical address of the used ring.
     */
    public long usedGpa()
    {
        return usedGpa;
    }

    /**
     * With EVENT_IDX the driver publishes used_event after each {@link #pollUsed} (asking for an interrupt at the
     * next used element) and honours avail_event for kicks.
     */
    public void setEventIdx(final boolean enabled)
    {
        this.eventIdx = enabled;
    }

    /**
     * Adds a chain: {@code outCount} device-readable buffers then {@code inCount} device-writable ones, taken from
     * {@code gpas}/{@code lengths} in that order. Not visible to the device until {@link #publish()}.
     *
     * @return the head index, or -1 if there are not enough free descriptors.
     */
    public int add(final long[] gpas, final int[] lengths, final int outCount, final int inCount)
    {
        final int n = checkCounts(gpas, lengths, outCount, inCount);
        if (n > freeCount)
        {
            return -1;
        }
        // The chain takes the top n entries of the free stack, top first.
        final int top = freeCount - 1;
        final int head = freeStack[top];
        for (int i = 0; i < n; i++)
        {
            final int d = freeStack[top - i];
            final boolean last = i == n - 1;
            final int next = last ? 0 : freeStack[top - i - 1];
            spDesc(d, gpas[i], lengths[i], (i >= outCount ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), next);
            chainNext[d] = next;
        }
        freeCount -= n;
        chainLength[head] = n;
        spAvailRing(head);
        return head;
    }

    /**
     * Adds a chain as one INDIRECT descriptor whose table is written at {@code tableGpa} (16 bytes per buffer). The
     * table memory belongs to the caller and must stay untouched until the chain is used.
     *
     * @return the head index, or -1 if no descriptor is free.
     */
    public int addIndirect(final long tableGpa, final long[] gpas, final int[] lengths, final int outCount,
        final int inCount)
    {
        final int n = checkCounts(gpas, lengths, outCount, inCount);
        if (0 == freeCount)
        {
            return -1;
        }
        for (int i = 0; i < n; i++)
        {
            final boolean last = i == n - 1;
            writeTableEntry(tableGpa, i, gpas[i], lengths[i],
                (i >= outCount ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), last ? 0 : i + 1);
        }
        final int head = freeStack[--freeCount];
        spDesc(head, tableGpa, n * DESC_SIZE, DESC_F_INDIRECT, 0);
        chainNext[head] = 0;
        chainLength[head] = 1;
        spAvailRing(head);
        return head;
    }

    private int checkCounts(final long[] gpas, final int[] lengths, final int outCount, final int inCount)
    {
        final int n = outCount + inCount;
        if (outCount < 0 || inCount < 0 || 0 == n || n > gpas.length || n > lengths.length)
        {
            throw new IllegalArgumentException("bad chain shape: outCount=" + outCount + ", inCount=" + inCount
                + ", gpas=" + gpas.length + ", lengths=" + lengths.length);
        }
        return n;
    }

    /**
     * Makes every chain added since the last publish visible (release store of avail.idx).
     */
    public void publish()
    {
        soAvailIdx(nextAvailIdx);
    }

    /**
     * @return true when the device asked to be kicked for what was published since the previous call (EVENT_IDX:
     *     avail_event rule; otherwise used.flags NO_NOTIFY clear). False when nothing was published since.
     */
    public boolean needsKick()
    {
        // StoreLoad: avail.idx must be visible before we read the device's avail_event / used.flags, mirroring the
        // device's fence in enableNotification; together they rule out a lost kick.
        VarHandle.fullFence();
        final int newIdx = publishedAvail;
        final int old = kickedAvail;
        kickedAvail = newIdx;
        if (newIdx == old)
        {
            return false;
        }
        if (eventIdx)
        {
            return SplitRingLayout.needEvent(used.get(U16, availEventOffset) & 0xFFFF, newIdx, old);
        }
        return 0 == (used.get(U16, USED_FLAGS_OFFSET) & USED_F_NO_NOTIFY);
    }

    /**
     * Takes the next used element, freeing its descriptors.
     *
     * @return {@code (long)id << 32 | (len & 0xffffffffL)}, or -1 when none is pending.
     * @throws IllegalStateException if the device returned an id that is not a pending head, or moved used.idx by
     *                               more than the queue size.
     */
    public long pollUsed()
    {
        if (lastUsed == shadowUsed)
        {
            final int usedIdx = lvUsedIdx();
            if (((usedIdx - lastUsed) & 0xFFFF) > size)
            {
                throw new IllegalStateException("device moved used.idx impossibly far: used.idx=" + usedIdx
                    + ", last used=" + lastUsed + ", size=" + size);
            }
            shadowUsed = usedIdx;
            if (lastUsed == usedIdx)
            {
                return -1;
            }
        }
        // The element lies below the used.idx we acquired: the device wrote it before its release store.
        final long at = SplitRingLayout.usedElemOffset(lastUsed & mask);
        final int id = used.get(U32, at);
        final int len = used.get(U32, at + 4);
        if (id < 0 || id >= size || 0 == chainLength[id])
        {
            throw new IllegalStateException("device returned a descriptor that is not a pending head: id=" + id
                + ", used index=" + lastUsed + ", size=" + size);
        }
        lastUsed = (lastUsed + 1) & 0xFFFF;
        int d = id;
        for (int i = chainLength[id]; i > 0; i--)
        {
            freeStack[freeCount++] = d;
            d = chainNext[d];
        }
        chainLength[id] = 0;
        if (eventIdx)
        {
            // Interrupt me when the device uses the element after this one.
            spUsedEvent(lastUsed);
        }
        return (long)id << 32 | (len & 0xFFFF_FFFFL);
    }

    /**
     * Re-arms interrupts before the driver sleeps (added to the stubbed API): EVENT_IDX writes used_event = next used
     * index, otherwise clears avail.flags NO_INTERRUPT; then fences and re-checks.
     *
     * @return true when used elements are already pending (poll again instead of sleeping).
     */
    public boolean enableInterrupts()
    {
        if (eventIdx)
        {
            spUsedEvent(lastUsed);
        }
        else
        {
            setAvailFlags(avail.get(U16, AVAIL_FLAGS_OFFSET) & ~AVAIL_F_NO_INTERRUPT);
        }
        // StoreLoad: the device must see the request before we decide nothing is pending.
        VarHandle.fullFence();
        return lvUsedIdx() != lastUsed;
    }

    /**
     * Asks the device not to interrupt (added to the stubbed API): sets avail.flags NO_INTERRUPT (without EVENT_IDX;
     * with it, used_event simply stays where it is).
     */
    public void disableInterrupts()
    {
        if (!eventIdx)
        {
            setAvailFlags(avail.get(U16, AVAIL_FLAGS_OFFSET) | AVAIL_F_NO_INTERRUPT);
        }
    }

    /**
     * @return descriptors not in use by a pending chain.
     */
    public int freeDescriptors()
    {
        return freeCount;
    }

    /**
     * @return the device's used.idx as last published (acquire load).
     */
    public int usedIdx()
    {
        return lvUsedIdx();
    }

    /**
     * @return the driver's avail.idx: where the next added chain goes (equal to the ring's value after
     *     {@link #publish()}).
     */
    public int availIdx()
    {
        return nextAvailIdx;
    }

    /**
     * @return the device's avail_event (end of the used ring). Added to the stubbed API, for tests.
     */
    public int availEvent()
    {
        return used.get(U16, availEventOffset) & 0xFFFF;
    }

    /**
     * @return the device's used.flags. Added to the stubbed API, for tests.
     */
    public int usedFlags()
    {
        return used.get(U16, USED_FLAGS_OFFSET) & 0xFFFF;
    }

    /**
     * Raw write of descriptor {@code index}, for hostile tests.
     */
    public void writeDescriptor(final int index, final long addr, final int length, final int flags, final int next)
    {
        if (index < 0 || index >= size)
        {
            throw new IllegalArgumentException("descriptor index out of range: index=" + index + ", size=" + size);
        }
        spDesc(index, addr, length, flags, next);
    }

    /**
     * Raw write of entry {@code index} of an indirect table at {@code tableGpa} (also used by {@link #addIndirect}).
     * Added to the stubbed API, for hostile tests.
     */
    public void writeTableEntry(final long tableGpa, final int index, final long addr, final int length,
        final int flags, final int next)
    {
        final long at = tableGpa - ramGpa + (long)index * DESC_SIZE;
        if (tableGpa < ramGpa || index < 0 || at < 0 || at > ram.byteSize() - DESC_SIZE)
        {
            throw new IllegalArgumentException("indirect table entry outside the RAM: tableGpa=0x"
                + Long.toHexString(tableGpa) + ", index=" + index);
        }
        ram.set(U64_UNALIGNED, at + DESC_ADDR_OFFSET, addr);
        ram.set(U32_UNALIGNED, at + DESC_LEN_OFFSET, length);
        ram.set(U16_UNALIGNED, at + DESC_FLAGS_OFFSET, (short)flags);
        ram.set(U16_UNALIGNED, at + DESC_NEXT_OFFSET, (short)next);
    }

    /**
     * Raw: puts {@code head} in the next avail slot and publishes it, bypassing descriptor bookkeeping.
     */
    public void pushAvailRaw(final int head)
    {
        spAvailRing(head);
        publish();
    }

    /**
     * Raw: stores avail.idx directly (e.g. jump it by more than the queue size).
     */
    public void setAvailIdx(final int idx)
    {
        nextAvailIdx = idx & 0xFFFF;
        soAvailIdx(nextAvailIdx);
    }

    /**
     * Raw: stores avail.flags (e.g. {@link SplitRingLayout#AVAIL_F_NO_INTERRUPT}). Added to the stubbed API.
     */
    public void setAvailFlags(final int flags)
    {
        avail.set(U16, AVAIL_FLAGS_OFFSET, (short)flags);
    }

    /**
     * Raw: stores used_event. Added to the stubbed API.
     */
    public void setUsedEvent(final int idx)
    {
        spUsedEvent(idx);
    }

    /**
     * Forgets all pending chains and resets indices to 0 (the driver re-initialising the queue). Zeroes the rings.
     */
    public void reset()
    {
        reset(0);
    }

    /**
     * Like {@link #reset()}, but with avail.idx, used.idx, used_event and avail_event all at {@code startIndex}, as a
     * ring looks after the device has consumed and returned everything up to there (e.g. after migration). Lets tests
     * start near the u16 wrap-around. Added to the stubbed API.
     */
    public void reset(final int startIndex)
    {
        final int start = startIndex & 0xFFFF;
        rings.fill((byte)0);
        for (int i = 0; i < size; i++)
        {
            // Top of the stack is descriptor 0, so a fresh queue hands out 0, 1, 2, ...
            freeStack[i] = size - 1 - i;
            chainNext[i] = 0;
            chainLength[i] = 0;
        }
        freeCount = size;
        nextAvailIdx = start;
        publishedAvail = start;
        kickedAvail = start;
        lastUsed = start;
        shadowUsed = start;
        avail.set(U16, AVAIL_IDX_OFFSET, (short)start);
        used.set(U16, USED_IDX_OFFSET, (short)start);
        avail.set(U16, usedEventOffset, (short)start);
        used.set(U16, availEventOffset, (short)start);
        // Publish the initialisation to a device thread started afterwards.
        VarHandle.fullFence();
    }

    @Override
    public String toString()
    {
        return "DriverQueue[size=" + size + ", desc=0x" + Long.toHexString(descGpa) + ", avail=0x"
            + Long.toHexString(availGpa) + ", used=0x" + Long.toHexString(usedGpa) + ", availIdx=" + nextAvailIdx
            + ", lastUsed=" + lastUsed + ", free=" + freeCount + "]";
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Ring accessors. lv = load with acquire, so = store with release, sp = plain store.

    private void spDesc(final int index, final long addr, final int length, final int flags, final int next)
    {
        final long at = (long)index * DESC_SIZE;
        desc.set(U64, at + DESC_ADDR_OFFSET, addr);
        desc.set(U32, at + DESC_LEN_OFFSET, length);
        desc.set(U16, at + DESC_FLAGS_OFFSET, (short)flags);
        desc.set(U16, at + DESC_NEXT_OFFSET, (short)next);
    }

    /**
     * avail.ring[nextAvailIdx % size] = head, plain: published by {@link #soAvailIdx}.
     */
    private void spAvailRing(final int head)
    {
        avail.set(U16, SplitRingLayout.availRingOffset(nextAvailIdx & mask), (short)head);
        nextAvailIdx = (nextAvailIdx + 1) & 0xFFFF;
    }

    /**
     * avail.idx, release: descriptors, ring entries and the payload the driver wrote into its buffers become visible
     * to a device that acquires the new idx (StoreStore before the store).
     */
    private void soAvailIdx(final int idx)
    {
        U16_HANDLE.setRelease(avail, (long)AVAIL_IDX_OFFSET, (short)idx);
        publishedAvail = idx;
    }

    /**
     * used.idx, acquire: the elements and the bytes the device wrote before its release store are visible after.
     */
    private int lvUsedIdx()
    {
        return (short)U16_HANDLE.getAcquire(used, (long)USED_IDX_OFFSET) & 0xFFFF;
    }

    private void spUsedEvent(final int idx)
    {
        avail.set(U16, usedEventOffset, (short)idx);
    }
}
