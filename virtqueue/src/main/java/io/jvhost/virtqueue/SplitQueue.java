package io.jvhost.virtqueue;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;

import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_ALIGN;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_FLAGS_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_F_NO_INTERRUPT;
import static io.jvhost.virtqueue.SplitRingLayout.AVAIL_IDX_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_ADDR_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_ALIGN;
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
import static io.jvhost.virtqueue.SplitRingLayout.USED_ALIGN;
import static io.jvhost.virtqueue.SplitRingLayout.USED_FLAGS_OFFSET;
import static io.jvhost.virtqueue.SplitRingLayout.USED_F_NO_NOTIFY;
import static io.jvhost.virtqueue.SplitRingLayout.USED_IDX_OFFSET;

/**
 * The device side of a virtio 1.x split virtqueue living in guest memory.
 * <pre>
 * Descriptor table (16 bytes each, align 16)   Available ring (driver → device)     Used ring (device → driver)
 *  0 u64 addr (guest-physical)                  0 u16 flags                          0 u16 flags
 *  8 u32 len                                    2 u16 idx                            2 u16 idx
 * 12 u16 flags (NEXT 1, WRITE 2, INDIRECT 4)    4 u16 ring[size]                     4 {u32 id, u32 len}[size]
 * 14 u16 next                                   4+2*size u16 used_event              4+8*size u16 avail_event
 * </pre>
 * Configuration ({@link #setSize}, {@link #setAddresses}, {@link #setNextAvail}, {@link #setFeatures}) happens while
 * the queue is stopped. The data path ({@link #pop}, {@link #pushUsed}, notification methods) is called by the one
 * worker that owns the queue at a time; the caller provides mutual exclusion with reconfiguration.
 * <p>
 * Memory ordering follows the virtio spec and uses JCTools-style names: {@code lvAvailIdx} is an acquire load
 * (descriptors written before idx are visible after it), {@code soUsedIdx} a release store (used elements are
 * visible before idx), and a full fence separates publishing used.idx from reading used_event / avail.flags.
 * {@code lp}/{@code sp} are plain loads and stores, ordered by those.
 * <p>
 * Everything the guest writes is read exactly once per use into locals and validated there, so a guest that rewrites
 * its rings concurrently can make a chain invalid but cannot make the device read or write outside guest memory.
 * Indices are free-running u16 values kept in {@code int}s masked with {@code 0xFFFF}.
 */
public final class SplitQueue
{
    /** Largest queue size virtio allows. */
    public static final int MAX_SIZE = 32768;

    /** A chain's total length is capped by the spec at 2^32 bytes ("MUST NOT add a chain longer than 2^32"). */
    private static final long MAX_CHAIN_BYTES = 1L << 32;

    private final int maxSize;

    // Configuration.
    private int size;
    private int mask;
    private long descAddr;
    private long availAddr;
    private long usedAddr;
    private boolean addressesSet;
    private boolean guestPhysAddresses;
    private boolean eventIdx;
    private boolean indirectDesc;
    private boolean notifyOnEmpty;
    /** {@link #suppressNotification}: pops leave avail_event behind until {@link #enableNotification}. */
    private boolean kicksSuppressed;
    /** Set by setAddresses/setNextAvail: the next bind takes nextUsed from the ring's used.idx. */
    private boolean reloadUsedIdx = true;

    // Binding.
    private GuestMemory memory;
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private long usedEventOffset;
    private long availEventOffset;
    private boolean broken;

    // Data path state (u16 values).
    private int nextAvail;
    /** Last avail.idx read: pops up to it need no further acquire load. */
    private int shadowAvail;
    private int nextUsed;
    /** used.idx at the last notification decision that reported true (libvhost-user's signalled_used). */
    private int signalledUsed;
    private boolean signalledUsedValid;
    private boolean pushedSinceDecision;

    // Indirect table access for the chain being walked (set up per indirect descriptor; no allocation).
    private MemorySegment tableBytes;
    private long tableOffset;
    private final MemorySegment tableScratch = MemorySegment.ofArray(new long[2]);

    /**
     * @param maxSize the largest size the device accepts (a power of two ≤ {@link #MAX_SIZE}).
     */
    public SplitQueue(final int maxSize)
    {
        if (maxSize < 1 || maxSize > MAX_SIZE || 0 != (maxSize & (maxSize - 1)))
        {
            throw new IllegalArgumentException("maximum queue size must be a power of two from 1 to " + MAX_SIZE
                + ", maxSize=" + maxSize);
        }
        this.maxSize = maxSize;
        this.size = maxSize;
        this.mask = maxSize - 1;
    }

    /**
     * @return the largest size the device accepts.
     */
    public int maxSize()
    {
        return maxSize;
    }

    /**
     * Sets the queue size (SET_VRING_NUM). Unbinds the queue: the ring parts must be translated again.
     *
     * @param size queue size, a power of two from 1 to maxSize.
     * @throws IllegalArgumentException otherwise (message names the value).
     */
    public void setSize(final int size)
    {
        if (size < 1 || size > maxSize || 0 != (size & (size - 1)))
        {
            throw new IllegalArgumentException("queue size must be a power of two from 1 to " + maxSize
                + ", size=" + size);
        }
        this.size = size;
        this.mask = size - 1;
        clearBinding();
    }

    /**
     * @return the queue size (defaults to maxSize).
     */
    public int size()
    {
        return size;
    }

    /**
     * Ring addresses as the front-end gives them in SET_VRING_ADDR: front-end virtual addresses. Unbinds the queue;
     * the next {@link #bind} translates them and reads used.idx from the ring.
     */
    public void setAddresses(final long descUserAddr, final long availUserAddr, final long usedUserAddr)
    {
        setAddresses(descUserAddr, availUserAddr, usedUserAddr, false);
    }

    /**
     * Ring addresses that are already guest-physical (in-process VMMs, tests). Unbinds the queue like
     * {@link #setAddresses}.
     */
    public void setGuestPhysAddresses(final long descGpa, final long availGpa, final long usedGpa)
    {
        setAddresses(descGpa, availGpa, usedGpa, true);
    }

    private void setAddresses(final long descAddr, final long availAddr, final long usedAddr, final boolean gpa)
    {
        this.descAddr = descAddr;
        this.availAddr = availAddr;
        this.usedAddr = usedAddr;
        this.guestPhysAddresses = gpa;
        this.addressesSet = true;
        this.reloadUsedIdx = true;
        this.signalledUsedValid = false;
        clearBinding();
    }

    /**
     * SET_VRING_BASE: the next available index to process (free-running u16). The next {@link #bind} reads used.idx
     * from the ring.
     */
    public void setNextAvail(final int nextAvail)
    {
        this.nextAvail = nextAvail & 0xFFFF;
        this.shadowAvail = this.nextAvail;
        this.reloadUsedIdx = true;
        this.signalledUsedValid = false;
        this.kicksSuppressed = false;
    }

    /**
     * Puts the last {@code count} chains taken back on the ring untaken, as if they had never been popped (QEMU's
     * {@code virtqueue_rewind}, libvhost-user's {@code vu_queue_rewind}): the next available index moves back to
     * {@code availIndex}, so the next pop, or whoever restarts the ring from the base GET_VRING_BASE then reports,
     * reads them again. The driver has not got them back, so their avail slots and descriptors are still as it
     * wrote them. Only sound when none of them and no later chain was returned to the driver: the caller, who took
     * them, checks that it still holds exactly these {@code count} chains; this checks that they are the last ones
     * taken.
     *
     * @param availIndex the oldest chain's {@link DescriptorChain#availIndex()}.
     * @return false, changing nothing, unless {@code count} is 1 to {@link #size()} and the chains taken from
     *     {@code availIndex} on are exactly {@code count}.
     */
    public boolean rewind(final int availIndex, final int count)
    {
        if (count < 1 || count > size || availIndex < 0 || availIndex > 0xFFFF
            || ((nextAvail - availIndex) & 0xFFFF) != count)
        {
            return false;
        }
        nextAvail = availIndex;
        shadowAvail = nextAvail;
        return true;
    }

    /**
     * @return the next available index to process (GET_VRING_BASE answers this).
     */
    public int nextAvail()
    {
        return nextAvail;
    }

    /**
     * @return the next used index the device will write.
     */
    public int nextUsed()
    {
        return nextUsed;
    }

    /**
     * Negotiated virtio features: EVENT_IDX, INDIRECT_DESC and NOTIFY_ON_EMPTY change the queue's behaviour.
     * <p>
     * Normally set while the queue is unbound. If EVENT_IDX changes while bound, the ring parts are translated again
     * (their length includes the event fields); if they no longer fit the queue becomes {@linkplain #isBroken broken}.
     */
    public void setFeatures(final long features)
    {
        final boolean newEventIdx = VirtioFeatures.has(features, VirtioFeatures.RING_EVENT_IDX);
        final boolean eventIdxChanged = newEventIdx != eventIdx;
        this.eventIdx = newEventIdx;
        this.indirectDesc = VirtioFeatures.has(features, VirtioFeatures.RING_INDIRECT_DESC);
        this.notifyOnEmpty = VirtioFeatures.has(features, VirtioFeatures.NOTIFY_ON_EMPTY);
        if (eventIdxChanged && null != memory)
        {
            try
            {
                translate(memory);
            }
            catch (final GuestMemoryException e)
            {
                broken = true;
            }
        }
    }

    /**
     * @return whether the ring's addresses were set ({@link #bind} needs them).
     */
    public boolean hasAddresses()
    {
        return addressesSet;
    }

    /**
     * Translates the ring addresses against {@code memory} and keeps the snapshot for descriptor access. Called
     * when the queue starts and whenever the memory map changes. On the first bind after configuration the used
     * index is read from the ring (it may not be zero after a front-end restart). Re-binding keeps all indices.
     * <p>
     * The queue does not take a reference on {@code memory}: the caller keeps it alive while the queue is bound.
     *
     * @throws GuestMemoryException if a ring part is not inside one memory region, or misaligned.
     * @throws IllegalStateException if no addresses were set.
     */
    public void bind(final GuestMemory memory) throws GuestMemoryException
    {
        if (!addressesSet)
        {
            throw new IllegalStateException("ring addresses not set, cannot bind queue");
        }
        translate(memory);
        if (reloadUsedIdx)
        {
            reloadUsedIdx = false;
            // The front-end may restart us on a ring whose device already returned buffers (reconnect, migration).
            nextUsed = lpUsedIdx();
            signalledUsedValid = false;
            pushedSinceDecision = false;
        }
    }

    private void translate(final GuestMemory memory) throws GuestMemoryException
    {
        checkAlignment("descriptor table", descAddr, DESC_ALIGN);
        checkAlignment("avail ring", availAddr, AVAIL_ALIGN);
        checkAlignment("used ring", usedAddr, USED_ALIGN);
        final MemorySegment newDesc = part(memory, "descriptor table", descAddr,
            SplitRingLayout.descTableBytes(size), DESC_ALIGN);
        final MemorySegment newAvail = part(memory, "avail ring", availAddr,
            SplitRingLayout.availRingBytes(size, eventIdx), AVAIL_ALIGN);
        final MemorySegment newUsed = part(memory, "used ring", usedAddr,
            SplitRingLayout.usedRingBytes(size, eventIdx), USED_ALIGN);
        this.desc = newDesc;
        this.avail = newAvail;
        this.used = newUsed;
        this.usedEventOffset = SplitRingLayout.usedEventOffset(size);
        this.availEventOffset = SplitRingLayout.availEventOffset(size);
        this.memory = memory;
    }

    private void checkAlignment(final String what, final long address, final int alignment)
        throws GuestMemoryException
    {
        if (0 != (address & (alignment - 1)))
        {
            throw new GuestMemoryException(what + " misaligned: " + (guestPhysAddresses ? "gpa" : "uaddr") + "=0x"
                + Long.toHexString(address) + " is not a multiple of " + alignment);
        }
    }

    private MemorySegment part(final GuestMemory memory, final String what, final long address, final long length,
        final int alignment) throws GuestMemoryException
    {
        final MemorySegment segment;
        try
        {
            segment = guestPhysAddresses ? memory.slice(address, length) : memory.sliceUser(address, length);
        }
        catch (final GuestMemoryException e)
        {
            throw new GuestMemoryException(what + " of queue size " + size + " not inside one memory region: "
                + e.getMessage());
        }
        // Atomic (acquire/release) accesses need the host address aligned too, not only the guest's.
        if (0 != (segment.address() & (alignment - 1)))
        {
            throw new GuestMemoryException(what + " maps to a misaligned host address 0x"
                + Long.toHexString(segment.address()) + " (" + (guestPhysAddresses ? "gpa" : "uaddr") + "=0x"
                + Long.toHexString(address) + ")");
        }
        return segment;
    }

    /**
     * @return the snapshot the queue is bound to, or null before {@link #bind}.
     */
    public GuestMemory memory()
    {
        return memory;
    }

    /**
     * Forgets the binding and the broken state (used on stop / reset). Keeps size, addresses and indices.
     */
    public void unbind()
    {
        clearBinding();
        broken = false;
        signalledUsedValid = false;
        pushedSinceDecision = false;
        kicksSuppressed = false;
    }

    private void clearBinding()
    {
        // Forget the cached avail.idx: the next pop acquires and checks it afresh.
        shadowAvail = nextAvail;
        memory = null;
        desc = null;
        avail = null;
        used = null;
        tableBytes = null;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Data path.

    /**
     * Takes the next available chain, walks and validates it completely, and fills {@code chain} (reused; nothing
     * is allocated).
     *
     * @return false when the ring is empty.
     * @throws InvalidChainException the chain was consumed from the avail ring but is invalid: return it with
     *                               {@code pushUsed(e.head(), 0)} when {@code e.head() >= 0}.
     * @throws QueueBrokenException  the avail index moved impossibly; the queue stays broken until unbound.
     * @throws IllegalStateException if the queue is not bound.
     */
    public boolean pop(final DescriptorChain chain) throws InvalidChainException, QueueBrokenException
    {
        checkBound();
        if (broken)
        {
            throw new QueueBrokenException("queue is broken until unbound: next_avail=" + nextAvail + ", size=" + size);
        }
        if (shadowAvail == nextAvail && !refreshAvail())
        {
            return false;
        }

        // The slot lies below the avail.idx we acquired, so the driver finished writing it before that release.
        final int slot = nextAvail & mask;
        final int head = lpAvailRing(slot);
        nextAvail = (nextAvail + 1) & 0xFFFF;
        if (eventIdx && !kicksSuppressed)
        {
            // "Kick me when you publish past what I have consumed" (libvhost-user does the same after every pop).
            // A plain store is enough: the value is a hint, and enableNotification fences before the device sleeps.
            spAvailEvent(nextAvail);
        }
        if (head >= size)
        {
            chain.reset(-1, memory);
            chain.invalidate();
            throw new InvalidChainException(-1, "avail ring entry out of range: head=" + head + ", size=" + size
                + ", avail slot=" + slot + ", avail index=" + ((nextAvail - 1) & 0xFFFF));
        }
        walk(chain, head, (nextAvail - 1) & 0xFFFF);
        return true;
    }

    /**
     * Reads avail.idx again and checks it.
     *
     * @return true when chains are pending.
     */
    private boolean refreshAvail() throws QueueBrokenException
    {
        final int availIdx = lvAvailIdx();
        final int pending = (availIdx - nextAvail) & 0xFFFF;
        if (pending > size)
        {
            // shadowAvail stays at nextAvail: after unbind the index is read and checked again.
            broken = true;
            throw new QueueBrokenException("driver moved avail.idx impossibly far: avail.idx=" + availIdx
                + ", next_avail=" + nextAvail + ", pending=" + pending + " > size=" + size);
        }
        shadowAvail = availIdx;
        return 0 != pending;
    }

    /**
     * Follows the chain from {@code head} through the descriptor table and at most one indirect table, validating
     * every descriptor and copying the buffers into {@code chain}.
     */
    private void walk(final DescriptorChain chain, final int head, final int availIndex) throws InvalidChainException
    {
        chain.reset(head, availIndex, memory);
        final GuestMemory memory = this.memory;
        final int maxDescriptors = chain.maxDescriptors();

        boolean inTable = false;
        int tableSize = 0;
        long tableAddr = 0;
        int index = head;
        int visited = 0;
        long total = 0;
        boolean seenWritable = false;

        while (true)
        {
            final long addr;
            final long len;
            final int flags;
            final int next;
            if (inTable)
            {
                if (visited >= tableSize)
                {
                    throw invalid(chain, "indirect chain longer than its table (loop?)", head, true, index,
                        tableAddr, tableSize);
                }
                final long at = (long)index * DESC_SIZE;
                addr = lpTableLong(at + DESC_ADDR_OFFSET);
                len = lpTableInt(at + DESC_LEN_OFFSET) & 0xFFFF_FFFFL;
                flags = lpTableShort(at + DESC_FLAGS_OFFSET) & 0xFFFF;
                next = lpTableShort(at + DESC_NEXT_OFFSET) & 0xFFFF;
            }
            else
            {
                if (visited >= size)
                {
                    throw invalid(chain, "chain longer than the queue size (loop?)", head, false, index, 0, 0);
                }
                addr = lpDescAddr(index);
                len = lpDescLen(index) & 0xFFFF_FFFFL;
                flags = lpDescFlags(index);
                next = lpDescNext(index);
            }
            visited++;

            if (0 != (flags & DESC_F_INDIRECT))
            {
                if (inTable)
                {
                    throw invalid(chain, "nested indirect descriptor", head, true, index, addr, len, flags);
                }
                if (!indirectDesc)
                {
                    throw invalid(chain, "indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC", head, false,
                        index, addr, len, flags);
                }
                if (0 != (flags & DESC_F_NEXT))
                {
                    throw invalid(chain, "indirect descriptor with NEXT", head, false, index, addr, len, flags);
                }
                if (0 == len || 0 != (len % DESC_SIZE))
                {
                    throw invalid(chain, "indirect table length not a non-zero multiple of 16", head, false,
                        index, addr, len, flags);
                }
                if (!memory.isValidRange(addr, len))
                {
                    throw invalid(chain, "indirect table outside guest memory", head, false, index, addr, len,
                        flags);
                }
                // The device ignores WRITE on the indirect descriptor itself; the table starts at entry 0.
                openTable(memory, addr, len);
                inTable = true;
                tableAddr = addr;
                tableSize = (int)(len / DESC_SIZE);
                index = 0;
                visited = 0;
                continue;
            }

            final boolean writable = 0 != (flags & DESC_F_WRITE);
            if (!writable && seenWritable)
            {
                throw invalid(chain, "device-readable descriptor after a device-writable one", head, inTable,
                    index, addr, len, flags);
            }
            if (Long.compareUnsigned(addr + len, addr) < 0)
            {
                // Addresses are unsigned u64: addr + len must not pass 2^64 (isValidRange would see a "negative" gpa).
                throw invalid(chain, "buffer wraps around the address space", head, inTable, index, addr, len, flags);
            }
            if (!memory.isValidRange(addr, len))
            {
                throw invalid(chain, "buffer outside guest memory", head, inTable, index, addr, len, flags);
            }
            if (chain.count() >= maxDescriptors)
            {
                throw invalid(chain, "chain has more than " + maxDescriptors + " buffers", head, inTable, index,
                    addr, len, flags);
            }
            total += len;
            if (total > MAX_CHAIN_BYTES)
            {
                throw invalid(chain, "chain longer than 4 GiB in total (" + total + " bytes)", head, inTable,
                    index, addr, len, flags);
            }
            chain.add(addr, (int)len, writable);
            seenWritable = writable;

            if (0 == (flags & DESC_F_NEXT))
            {
                break;
            }
            if (next >= (inTable ? tableSize : size))
            {
                throw invalid(chain, "next index out of range (" + next + " >= "
                    + (inTable ? "table size " + tableSize : "queue size " + size) + ")", head, inTable, index,
                    addr, len, flags);
            }
            index = next;
        }
        tableBytes = null;
        chain.resetCursors();
    }

    /**
     * Points the table accessors at an indirect table already checked with {@code isValidRange}: straight into the
     * region when the table lies in one (always, in practice), else through a 16-byte scratch copy per entry.
     */
    private void openTable(final GuestMemory memory, final long addr, final long len)
    {
        final MemoryRegion region = memory.region(memory.regionIndexOf(addr));
        // A table in a grant region mapped per access is read entry by entry, each mapped for its read.
        if (!region.isMappedOnAccess() && Long.compareUnsigned(addr + len, region.guestPhysEnd()) <= 0)
        {
            tableBytes = region.bytes();
            tableOffset = addr - region.guestPhysAddr();
        }
        else
        {
            tableBytes = null;
            tableOffset = addr;
        }
    }

    private long lpTableLong(final long at)
    {
        return null != tableBytes ? tableBytes.get(U64_UNALIGNED, tableOffset + at) : scratchEntry(at).get(
            U64_UNALIGNED, at & (DESC_SIZE - 1));
    }

    private int lpTableInt(final long at)
    {
        return null != tableBytes ? tableBytes.get(U32_UNALIGNED, tableOffset + at) : scratchEntry(at).get(
            U32_UNALIGNED, at & (DESC_SIZE - 1));
    }

    private short lpTableShort(final long at)
    {
        return null != tableBytes ? tableBytes.get(U16_UNALIGNED, tableOffset + at) : scratchEntry(at).get(
            U16_UNALIGNED, at & (DESC_SIZE - 1));
    }

    /**
     * Slow path for a table that spans regions: copies the entry holding table offset {@code at} into the scratch
     * (GuestMemory.read splits at the region boundary). Each field is copied once per read, so the guest can still
     * not make two reads of one field disagree within a use: every field is read exactly once.
     */
    private MemorySegment scratchEntry(final long at)
    {
        final long entry = at & ~(long)(DESC_SIZE - 1);
        try
        {
            memory.read(tableOffset + entry, tableScratch, 0, DESC_SIZE);
        }
        catch (final GuestMemoryException e)
        {
            // The table range was validated against this snapshot before it was opened.
            throw new IllegalStateException(e);
        }
        return tableScratch;
    }

    private InvalidChainException invalid(final DescriptorChain chain, final String reason, final int head,
        final boolean inTable, final int index, final long addr, final long len, final int flags)
    {
        tableBytes = null;
        chain.invalidate();
        return new InvalidChainException(head, "invalid descriptor chain: " + reason + ": head=" + head
            + (inTable ? ", indirect index=" : ", index=") + index + ", addr=0x" + Long.toHexString(addr)
            + ", len=" + len + ", flags=0x" + Integer.toHexString(flags) + ", queue size=" + size);
    }

    private InvalidChainException invalid(final DescriptorChain chain, final String reason, final int head,
        final boolean inTable, final int index, final long tableAddr, final int tableSize)
    {
        tableBytes = null;
        chain.invalidate();
        return new InvalidChainException(head, "invalid descriptor chain: " + reason + ": head=" + head
            + (inTable ? ", indirect index=" + index + ", table addr=0x" + Long.toHexString(tableAddr)
            + ", table size=" + tableSize : ", index=" + index) + ", queue size=" + size);
    }

    /**
     * Publishes a used element: {@code head} of a popped chain and the number of bytes written into it.
     *
     * @throws IllegalArgumentException if {@code head} is not a descriptor index of this queue.
     * @throws IllegalStateException    if the queue is not bound.
     */
    public void pushUsed(final int head, final int writtenLength)
    {
        checkBound();
        if (head < 0 || head >= size)
        {
            throw new IllegalArgumentException("used head out of range: head=" + head + ", size=" + size);
        }
        final int old = nextUsed;
        spUsedElem(old & mask, head, writtenLength);
        final int next = (old + 1) & 0xFFFF;
        nextUsed = next;
        soUsedIdx(next);
        // After 2^16 pushes without a decision signalledUsed aliases a fresh index: forget it (libvhost-user too).
        if ((short)(next - signalledUsed) <= 0)
        {
            signalledUsedValid = false;
        }
        pushedSinceDecision = true;
    }

    /**
     * Decides whether the driver wants an interrupt for the elements pushed since the previous decision (EVENT_IDX:
     * {@code vring_need_event(used_event, used.idx now, used.idx at the previous decision)}, always true on the first
     * decision after binding or after more than 2^15 pushes without one, like libvhost-user's signalled_used;
     * otherwise avail.flags NO_INTERRUPT). NOTIFY_ON_EMPTY, when negotiated, forces true whenever the avail ring is
     * empty. Issues the full fence itself.
     *
     * @return false when nothing was pushed since the last decision.
     */
    public boolean needsNotification()
    {
        checkBound();
        if (!pushedSinceDecision)
        {
            return false;
        }
        pushedSinceDecision = false;
        // StoreLoad: used.idx must be visible to the driver before we read its used_event / avail.flags. Otherwise
        // the driver may read the old used.idx, go to sleep with an event we then judge as "not yet passed", and
        // both sides wait forever.
        VarHandle.fullFence();

        final int newUsed = nextUsed;
        final int old = signalledUsed;
        final boolean valid = signalledUsedValid;
        signalledUsed = newUsed;
        signalledUsedValid = true;

        if (notifyOnEmpty && lvAvailIdx() == nextAvail)
        {
            return true;
        }
        if (!eventIdx)
        {
            return 0 == (lpAvailFlags() & AVAIL_F_NO_INTERRUPT);
        }
        return !valid || SplitRingLayout.needEvent(lpUsedEvent(), newUsed, old);
    }

    /**
     * Asks the driver to kick for new buffers (writes avail_event = nextAvail, or clears USED_F_NO_NOTIFY), then
     * re-checks.
     *
     * @return true if buffers became available meanwhile (process again instead of sleeping).
     */
    public boolean enableNotification()
    {
        checkBound();
        kicksSuppressed = false;
        if (eventIdx)
        {
            spAvailEvent(nextAvail);
        }
        else
        {
            spUsedFlags(lpUsedFlags() & ~USED_F_NO_NOTIFY);
        }
        // StoreLoad: the request must be visible before we look at avail.idx once more; else the driver could
        // publish, read our stale "don't kick" state, skip the kick, and we would sleep on a non-empty ring.
        VarHandle.fullFence();
        final int availIdx = lvAvailIdx();
        shadowAvail = availIdx;
        return availIdx != nextAvail;
    }

    /**
     * Asks the driver not to kick while the device is busy (sets USED_F_NO_NOTIFY without EVENT_IDX; with
     * EVENT_IDX nothing needs writing: avail_event is left behind as chains are popped).
     */
    public void disableNotification()
    {
        checkBound();
        if (!eventIdx)
        {
            spUsedFlags(lpUsedFlags() | USED_F_NO_NOTIFY);
        }
    }

    /**
     * Asks the driver not to kick at all until {@link #enableNotification}, for a device that will look at the ring
     * at a time of its own anyway: sets USED_F_NO_NOTIFY without EVENT_IDX; with EVENT_IDX, avail_event goes to an
     * index the driver has already passed ({@code nextAvail - 1}) and pops leave it there, so no publish crosses it
     * (until 65535 more, by which time the device has been round again). A driver that read the old value meanwhile
     * may still kick once.
     */
    public void suppressNotification()
    {
        checkBound();
        kicksSuppressed = true;
        if (eventIdx)
        {
            spAvailEvent((nextAvail - 1) & 0xFFFF);
        }
        else
        {
            spUsedFlags(lpUsedFlags() | USED_F_NO_NOTIFY);
        }
    }

    /**
     * @return true when the driver has published buffers not yet popped.
     */
    public boolean hasAvailable()
    {
        checkBound();
        if (shadowAvail != nextAvail)
        {
            return true;
        }
        shadowAvail = lvAvailIdx();
        return shadowAvail != nextAvail;
    }

    /**
     * @return true after a {@link QueueBrokenException}, until {@link #unbind()}.
     */
    public boolean isBroken()
    {
        return broken;
    }

    private void checkBound()
    {
        if (null == memory)
        {
            throw new IllegalStateException("queue not bound");
        }
    }

    @Override
    public String toString()
    {
        return "SplitQueue[size=" + size + ", nextAvail=" + nextAvail + ", nextUsed=" + nextUsed + ", bound="
            + (null != memory) + ", broken=" + broken + ", eventIdx=" + eventIdx + ", indirect=" + indirectDesc + "]";
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Ring accessors. lv = load with acquire, so = store with release, lp/sp = plain.

    /**
     * avail.idx, acquire: the driver wrote ring entries and descriptors before its release store of idx, so every
     * later plain read of them sees at least those writes (LoadLoad + LoadStore after the load).
     */
    private int lvAvailIdx()
    {
        return (short)U16_HANDLE.getAcquire(avail, (long)AVAIL_IDX_OFFSET) & 0xFFFF;
    }

    /**
     * avail.ring[slot], plain: ordered after {@link #lvAvailIdx()}.
     */
    private int lpAvailRing(final int slot)
    {
        return avail.get(U16, SplitRingLayout.availRingOffset(slot)) & 0xFFFF;
    }

    /**
     * avail.flags, plain: only read after the full fence of needsNotification.
     */
    private int lpAvailFlags()
    {
        return avail.get(U16, AVAIL_FLAGS_OFFSET) & 0xFFFF;
    }

    /**
     * used_event, plain: only read after the full fence of needsNotification.
     */
    private int lpUsedEvent()
    {
        return avail.get(U16, usedEventOffset) & 0xFFFF;
    }

    private long lpDescAddr(final int index)
    {
        return desc.get(U64, (long)index * DESC_SIZE + DESC_ADDR_OFFSET);
    }

    private int lpDescLen(final int index)
    {
        return desc.get(U32, (long)index * DESC_SIZE + DESC_LEN_OFFSET);
    }

    private int lpDescFlags(final int index)
    {
        return desc.get(U16, (long)index * DESC_SIZE + DESC_FLAGS_OFFSET) & 0xFFFF;
    }

    private int lpDescNext(final int index)
    {
        return desc.get(U16, (long)index * DESC_SIZE + DESC_NEXT_OFFSET) & 0xFFFF;
    }

    /**
     * used.ring[slot] = {id, len}, plain: published by the release store of {@link #soUsedIdx}.
     */
    private void spUsedElem(final int slot, final int id, final int len)
    {
        final long at = SplitRingLayout.usedElemOffset(slot);
        used.set(U32, at, id);
        used.set(U32, at + 4, len);
    }

    /**
     * used.idx, release: the element stores above cannot be reordered after it (StoreStore), so a driver that
     * acquires the new idx sees complete elements; payload bytes written into the chain are ordered the same way.
     */
    private void soUsedIdx(final int idx)
    {
        U16_HANDLE.setRelease(used, (long)USED_IDX_OFFSET, (short)idx);
    }

    /**
     * used.idx, plain: only read at bind, when the queue is stopped (the device is its only writer).
     */
    private int lpUsedIdx()
    {
        return used.get(U16, USED_IDX_OFFSET) & 0xFFFF;
    }

    private int lpUsedFlags()
    {
        return used.get(U16, USED_FLAGS_OFFSET) & 0xFFFF;
    }

    private void spUsedFlags(final int flags)
    {
        used.set(U16, USED_FLAGS_OFFSET, (short)flags);
    }

    private void spAvailEvent(final int idx)
    {
        used.set(U16, availEventOffset, (short)idx);
    }
}
