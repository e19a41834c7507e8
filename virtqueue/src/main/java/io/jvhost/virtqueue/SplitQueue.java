package io.jvhost.virtqueue;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;

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
 */
public final class SplitQueue
{
    /** Largest queue size virtio allows. */
    public static final int MAX_SIZE = 32768;

    /**
     * @param maxSize the largest size the device accepts (a power of two ≤ {@link #MAX_SIZE}).
     */
    public SplitQueue(final int maxSize)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @param size queue size, a power of two from 1 to maxSize.
     * @throws IllegalArgumentException otherwise (message names the value).
     */
    public void setSize(final int size)
    {
        throw new UnsupportedOperationException("TODO");
    }

    public int size()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Ring addresses as the front-end gives them in SET_VRING_ADDR: front-end virtual addresses.
     */
    public void setAddresses(final long descUserAddr, final long availUserAddr, final long usedUserAddr)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Ring addresses that are already guest-physical (in-process VMMs, tests).
     */
    public void setGuestPhysAddresses(final long descGpa, final long availGpa, final long usedGpa)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * SET_VRING_BASE: the next available index to process (free-running u16).
     */
    public void setNextAvail(final int nextAvail)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the next available index to process (GET_VRING_BASE answers this).
     */
    public int nextAvail()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the next used index the device will write.
     */
    public int nextUsed()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Negotiated virtio features: EVENT_IDX, INDIRECT_DESC and NOTIFY_ON_EMPTY change the queue's behaviour.
     */
    public void setFeatures(final long features)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Translates the ring addresses against {@code memory} and keeps the snapshot for descriptor access. Called
     * when the queue starts and whenever the memory map changes. On the first bind after configuration the used
     * index is read from the ring (it may not be zero after a front-end restart).
     *
     * @throws GuestMemoryException if a ring part is not inside one memory region, or misaligned.
     */
    public void bind(final GuestMemory memory) throws GuestMemoryException
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return the snapshot the queue is bound to, or null before {@link #bind}.
     */
    public GuestMemory memory()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Forgets the binding and the broken state (used on stop / reset). Keeps size, addresses and indices.
     */
    public void unbind()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Takes the next available chain, walks and validates it completely, and fills {@code chain} (reused; nothing
     * is allocated).
     *
     * @return false when the ring is empty.
     * @throws InvalidChainException the chain was consumed from the avail ring but is invalid: return it with
     *                               {@code pushUsed(e.head(), 0)} when {@code e.head() >= 0}.
     * @throws QueueBrokenException  the avail index moved impossibly; the queue stays broken until unbound.
     */
    public boolean pop(final DescriptorChain chain) throws InvalidChainException, QueueBrokenException
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Publishes a used element: {@code head} of a popped chain and the number of bytes written into it.
     */
    public void pushUsed(final int head, final int writtenLength)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Decides whether the driver wants an interrupt for the elements pushed since the last call that returned true
     * (EVENT_IDX: the used_event rule with wrap-around; otherwise avail.flags NO_INTERRUPT, overridden by
     * NOTIFY_ON_EMPTY when the ring is empty). Issues the full fence itself.
     */
    public boolean needsNotification()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Asks the driver to kick for new buffers (writes avail_event, or clears USED_F_NO_NOTIFY), then re-checks.
     *
     * @return true if buffers became available meanwhile (process again instead of sleeping).
     */
    public boolean enableNotification()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Asks the driver not to kick while the device is busy (sets USED_F_NO_NOTIFY without EVENT_IDX; with
     * EVENT_IDX nothing needs writing).
     */
    public void disableNotification()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return true when the driver has published buffers not yet popped.
     */
    public boolean hasAvailable()
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * @return true after a {@link QueueBrokenException}, until {@link #unbind()}.
     */
    public boolean isBroken()
    {
        throw new UnsupportedOperationException("TODO");
    }
}
