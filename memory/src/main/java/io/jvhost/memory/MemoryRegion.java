package io.jvhost.memory;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;

/**
 * One region of guest RAM mapped into this process: guest-physical range, the front-end's virtual address of the
 * same bytes, and our mapping of them.
 * <p>
 * Regions are reference counted because several {@link GuestMemory} snapshots can share one mapping (ADD_MEM_REG
 * keeps the others); the mapping is released when the last snapshot holding it is released.
 */
public final class MemoryRegion
{
    private static final System.Logger LOG = System.getLogger(MemoryRegion.class.getName());

    private final long guestPhysAddr;
    private final long size;
    private final long userAddr;
    private final long mmapOffset;
    private final MappedMemory mapping;
    private final MemorySegment bytes;
    private final AtomicInteger refs = new AtomicInteger(1);

    private MemoryRegion(final long guestPhysAddr, final long size, final long userAddr, final long mmapOffset,
        final MappedMemory mapping, final MemorySegment bytes)
    {
        this.guestPhysAddr = guestPhysAddr;
        this.size = size;
        this.userAddr = userAddr;
        this.mmapOffset = mmapOffset;
        this.mapping = mapping;
        this.bytes = bytes;
    }

    /**
     * Validates a region description from the front-end and maps it from {@code fd}. The caller keeps ownership of
     * the fd (close it after this returns: the mapping holds the file).
     *
     * @throws GuestMemoryException when the numbers are impossible or the file is smaller than the region.
     */
    public static MemoryRegion map(final int fd, final long guestPhysAddr, final long size, final long userAddr,
        final long mmapOffset) throws GuestMemoryException, NativeException
    {
        validate(guestPhysAddr, size, userAddr, mmapOffset);
        final long fileSize = LibC.fileSize(fd);
        final long end = mmapOffset + size;
        if (end > fileSize)
        {
            throw new GuestMemoryException("memory region larger than its file: mmap_offset=" + mmapOffset
                + " + size=" + size + " > file size " + fileSize + " (fd=" + fd + ")");
        }
        final int seals = MemFd.seals(fd);
        if (seals < 0 || (seals & MemFd.F_SEAL_SHRINK) == 0)
        {
            // Nothing stops the front-end from truncating the file later (QEMU seals its memory-backend-memfd unless
            // seal=off; file back-ends cannot be sealed). An access past the new end faults, which ends the
            // connection: that, not this check, is what protects the back-end.
            LOG.log(Level.DEBUG, () -> "memory region at gpa " + GuestMemoryException.hex(guestPhysAddr) + " (fd="
                + fd + ") is " + (seals < 0 ? "in a file that cannot be sealed" : "not sealed against shrinking")
                + ": a truncation would fault our accesses");
        }
        // Map from file offset 0 like libvhost-user: hugepage-backed files need aligned offsets.
        final MappedMemory mapping = MappedMemory.map(fd, 0, end);
        return new MemoryRegion(guestPhysAddr, size, userAddr, mmapOffset, mapping,
            mapping.segment().asSlice(mmapOffset, size));
    }

    /**
     * A region over memory this process already owns (tests, the in-process front-end). Not unmapped on release.
     */
    public static MemoryRegion ofSegment(final long guestPhysAddr, final MemorySegment bytes, final long userAddr)
        throws GuestMemoryException
    {
        validate(guestPhysAddr, bytes.byteSize(), userAddr, 0);
        return new MemoryRegion(guestPhysAddr, bytes.byteSize(), userAddr, 0, null, bytes);
    }

    private static void validate(final long gpa, final long size, final long uaddr, final long offset)
        throws GuestMemoryException
    {
        // Guest-physical and user addresses fit in 63 bits on every host we run on; refusing the rest keeps all
        // later arithmetic free of unsigned wrap-around.
        if (size <= 0 || gpa < 0 || uaddr < 0 || offset < 0
            || gpa + size < 0 || uaddr + size < 0 || offset + size < 0)
        {
            throw new GuestMemoryException("invalid memory region: guest_phys_addr=" + GuestMemoryException.hex(gpa)
                + ", size=" + GuestMemoryException.hex(size) + ", userspace_addr=" + GuestMemoryException.hex(uaddr)
                + ", mmap_offset=" + GuestMemoryException.hex(offset));
        }
    }

    public long guestPhysAddr()
    {
        return guestPhysAddr;
    }

    public long size()
    {
        return size;
    }

    /**
     * @return one past the last guest-physical address of the region.
     */
    public long guestPhysEnd()
    {
        return guestPhysAddr + size;
    }

    public long userAddr()
    {
        return userAddr;
    }

    public long mmapOffset()
    {
        return mmapOffset;
    }

    /**
     * @return the region's bytes, guest-physical address {@link #guestPhysAddr()} at offset 0.
     */
    public MemorySegment bytes()
    {
        return bytes;
    }

    /**
     * @return true when the front-end described the same region (REM_MEM_REG matches on these three).
     */
    public boolean matches(final long gpa, final long regionSize, final long uaddr)
    {
        return guestPhysAddr == gpa && size == regionSize && userAddr == uaddr;
    }

    boolean overlaps(final MemoryRegion other)
    {
        return guestPhysAddr < other.guestPhysEnd() && other.guestPhysAddr < guestPhysEnd()
            || userAddr < other.userAddr + other.size && other.userAddr < userAddr + size;
    }

    void retain()
    {
        if (refs.getAndIncrement() <= 0)
        {
            throw new IllegalStateException("memory region already released: " + this);
        }
    }

    /**
     * Drops one reference; the last one unmaps.
     */
    public void release()
    {
        final int left = refs.decrementAndGet();
        if (left == 0 && null != mapping)
        {
            mapping.close();
        }
        else if (left < 0)
        {
            throw new IllegalStateException("memory region released twice: " + this);
        }
    }

    @Override
    public String toString()
    {
        return "MemoryRegion[gpa=" + GuestMemoryException.hex(guestPhysAddr) + ", size=" + GuestMemoryException.hex(size)
            + ", uaddr=" + GuestMemoryException.hex(userAddr) + ", mmap_offset=" + GuestMemoryException.hex(mmapOffset)
            + "]";
    }
}
