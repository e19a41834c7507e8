package io.jvhost.device.console;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * A transmit chain kept until the host side has taken all its bytes, and how far it got.
 * <p>
 * It may be kept across batches, queue stops and memory-map changes, so it keeps only the chain's guest addresses
 * and resolves them against the memory of the batch that sends them, never through the snapshot it was popped under
 * (that one may be unmapped by then). Allocation-free.
 */
final class HeldOutput
{
    /** {@link #drainTo}: every readable byte was taken. */
    static final int DONE = 0;
    /** {@link #drainTo}: the host side is full; the rest waits. */
    static final int BLOCKED = 1;
    /** {@link #drainTo}: a buffer is no longer in guest memory; the rest is dropped. */
    static final int FAULT = 2;

    private final DescriptorChain chain;
    private boolean held;
    private int desc;
    private long offset;
    private long faultAddress;

    HeldOutput(final int maxDescriptors)
    {
        this.chain = new DescriptorChain(maxDescriptors);
    }

    boolean isHeld()
    {
        return held;
    }

    /**
     * @return the held chain (to complete it).
     */
    DescriptorChain chain()
    {
        return chain;
    }

    /**
     * Keeps {@code popped} (copied: the queue reuses its chain object).
     */
    void hold(final DescriptorChain popped)
    {
        chain.copyFrom(popped);
        held = true;
        desc = 0;
        offset = 0;
    }

    void release()
    {
        held = false;
    }

    /**
     * @return the guest address that was not in memory at the last {@link #FAULT}.
     */
    long faultAddress()
    {
        return faultAddress;
    }

    /**
     * Offers the bytes not taken yet, buffer by buffer, to {@code backend}.
     *
     * @return {@link #DONE}, {@link #BLOCKED} or {@link #FAULT}.
     */
    int drainTo(final GuestMemory memory, final ConsoleBackend backend)
    {
        final int readable = chain.readableCount();
        while (desc < readable)
        {
            final long length = Integer.toUnsignedLong(chain.length(desc));
            while (offset < length)
            {
                final long gpa = chain.address(desc) + offset;
                final int index = memory.regionIndexOf(gpa);
                // Written from host addresses: a Xen grant region mapped per access has none.
                if (index < 0 || memory.region(index).isMappedOnAccess())
                {
                    faultAddress = gpa;
                    return FAULT;
                }
                final MemoryRegion region = memory.region(index);
                final long span = Math.min(length - offset, region.guestPhysEnd() - gpa);
                final long taken = backend.write(region.bytes().address() + (gpa - region.guestPhysAddr()), span);
                offset += taken;
                if (taken < span)
                {
                    return BLOCKED;
                }
            }
            desc++;
            offset = 0;
        }
        return DONE;
    }
}
