package io.jvhost.memory;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.memory.xen.XenMapException;
import io.jvhost.memory.xen.XenMappings;
import io.jvhost.memory.xen.XenSyscalls;
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
 * <p>
 * How the bytes were mapped is decided here, once, when the region arrives: {@link #map} mmaps a file (memfd, as
 * from QEMU), {@link #mapXen} maps a Xen guest's frames or grants (VHOST_USER_PROTOCOL_F_XEN_MMAP). Either way
 * {@link #bytes()} is the region's memory and accesses cost the same. The one exception is a grant region mapped per
 * access ({@link #isMappedOnAccess()}): it has no bytes of its own, and {@link GuestMemory} and the virtqueue
 * cursors reach it through a {@link io.jvhost.memory.xen.GrantWindow}.
 */
public final class MemoryRegion
{
    private static final System.Logger LOG = System.getLogger(MemoryRegion.class.getName());

    /**
     * Told of each mapping a region makes, as it makes it. For tests only: a mapping holds no descriptor, so a region
     * left mapped after its release shows nowhere else a test can look cheaply (the back-end's fuzz harness checks
     * each address with mincore(2) once the connection is over).
     */
    @FunctionalInterface
    public interface MappingObserver
    {
        /**
         * @param address where the mapping starts: a plain region's whole file mapping (from file offset 0), a
         *                foreign or whole grant region's pages.
         * @param length  its length in bytes.
         */
        void mapped(long address, long length);
    }

    /** Null unless a test observes; read once per region mapped (SET_MEM_TABLE, ADD_MEM_REG), never per access. */
    private static volatile MappingObserver observer;

    private final long guestPhysAddr;
    private final long size;
    private final long userAddr;
    private final long mmapOffset;
    private final Runnable unmap;
    private final MemorySegment bytes;
    private final XenMmap.Kind kind;
    private final int domid;
    /** The gntdev descriptor a grant region owns (it unmaps through it), else -1. */
    private final int grantFd;
    private final XenSyscalls sys;
    private final AtomicInteger refs = new AtomicInteger(1);

    private MemoryRegion(final long guestPhysAddr, final long size, final long userAddr, final long mmapOffset,
        final Runnable unmap, final MemorySegment bytes)
    {
        this(guestPhysAddr, size, userAddr, mmapOffset, unmap, bytes, XenMmap.Kind.UNIX, 0, -1, null);
    }

    private MemoryRegion(final long guestPhysAddr, final long size, final long userAddr, final long mmapOffset,
        final Runnable unmap, final MemorySegment bytes, final XenMmap.Kind kind, final int domid, final int grantFd,
        final XenSyscalls sys)
    {
        this.guestPhysAddr = guestPhysAddr;
        this.size = size;
        this.userAddr = userAddr;
        this.mmapOffset = mmapOffset;
        this.unmap = unmap;
        this.bytes = bytes;
        this.kind = kind;
        this.domid = domid;
        this.grantFd = grantFd;
        this.sys = sys;
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
        observed(mapping.segment().address(), end);
        return new MemoryRegion(guestPhysAddr, size, userAddr, mmapOffset, mapping::close,
            mapping.segment().asSlice(mmapOffset, size));
    }

    /**
     * Validates a region description with its Xen fields ({@link XenMmap}) and maps it: flags 0 as {@link #map};
     * FOREIGN through the privcmd descriptor {@code fd} (frames {@code guestPhysAddr / 4096 ...} of {@code domid});
     * GRANT through the gntdev descriptor {@code fd}, now, or per access with NO_ADVANCE_MAP. The caller keeps
     * ownership of {@code fd} (a grant region keeps a duplicate, closed with the region).
     *
     * @throws GuestMemoryException when the description is invalid or the kernel or hypervisor refused the mapping
     *                              (the message names the values and the errno).
     */
    public static MemoryRegion mapXen(final XenSyscalls sys, final int fd, final long guestPhysAddr, final long size,
        final long userAddr, final long mmapOffset, final int flags, final int domid)
        throws GuestMemoryException, NativeException
    {
        final XenMmap.Kind kind = XenMmap.validate(flags, domid, guestPhysAddr, size, mmapOffset);
        if (kind == XenMmap.Kind.UNIX)
        {
            return map(fd, guestPhysAddr, size, userAddr, mmapOffset);
        }
        validateXen(guestPhysAddr, size, userAddr, kind);
        try
        {
            if (kind == XenMmap.Kind.FOREIGN)
            {
                final XenMappings.Mapped m = XenMappings.foreign(sys, fd, domid,
                    guestPhysAddr >>> XenMappings.PAGE_SHIFT, size);
                observed(m.address(), m.length());
                return new MemoryRegion(guestPhysAddr, size, userAddr, 0, m.unmap(),
                    MemorySegment.ofAddress(m.address()).reinterpret(size), kind, domid, -1, sys);
            }
            final int owned = LibC.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0);
            try
            {
                if (kind == XenMmap.Kind.GRANT_ON_ACCESS)
                {
                    return new MemoryRegion(guestPhysAddr, size, userAddr, 0, null, MemorySegment.NULL, kind, domid,
                        owned, sys);
                }
                final XenMappings.Mapped m = XenMappings.grant(sys, owned, domid, XenMmap.firstRef(guestPhysAddr),
                    (int)(size >>> XenMappings.PAGE_SHIFT));
                observed(m.address(), m.length());
                return new MemoryRegion(guestPhysAddr, size, userAddr, 0, m.unmap(),
                    MemorySegment.ofAddress(m.address()).reinterpret(size), kind, domid, owned, sys);
            }
            catch (final XenMapException | RuntimeException e)
            {
                LibC.closeQuietly(owned);
                throw e;
            }
        }
        catch (final XenMapException e)
        {
            throw new GuestMemoryException(e.getMessage());
        }
    }

    /**
     * Tells {@code o} of every mapping regions make from now on (null: no one). For tests: production never sets it,
     * and mapping a region then costs one read of a null field.
     */
    public static void observeMappings(final MappingObserver o)
    {
        observer = o;
    }

    private static void observed(final long address, final long length)
    {
        final MappingObserver o = observer;
        if (null != o)
        {
            o.mapped(address, length);
        }
    }

    /**
     * The address checks of {@link #validate} for Xen regions: a grant region's guest-physical address has bit 63
     * set (so it is compared unsigned), and one mapped per access has no front-end address to check.
     */
    private static void validateXen(final long gpa, final long size, final long uaddr, final XenMmap.Kind kind)
        throws GuestMemoryException
    {
        final boolean gpaWraps = Long.compareUnsigned(gpa + size, gpa) <= 0;
        final boolean uaddrBad = kind != XenMmap.Kind.GRANT_ON_ACCESS && (uaddr < 0 || uaddr + size < 0);
        if (gpaWraps || uaddrBad)
        {
            throw new GuestMemoryException("invalid memory region: guest_phys_addr=" + GuestMemoryException.hex(gpa)
                + ", size=" + GuestMemoryException.hex(size) + ", userspace_addr=" + GuestMemoryException.hex(uaddr)
                + " (" + kind + ")");
        }
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
     * @return the region's bytes, guest-physical address {@link #guestPhysAddr()} at offset 0; empty for a region
     *     mapped per access ({@link #isMappedOnAccess()}).
     */
    public MemorySegment bytes()
    {
        return bytes;
    }

    /**
     * @return how the region is mapped.
     */
    public XenMmap.Kind kind()
    {
        return kind;
    }

    /**
     * @return true for a Xen grant region mapped per access: reach it through a
     *     {@link io.jvhost.memory.xen.GrantWindow} with {@link #grantFd()}, {@link #domid()} and {@link #syscalls()}.
     */
    public boolean isMappedOnAccess()
    {
        return kind == XenMmap.Kind.GRANT_ON_ACCESS;
    }

    /**
     * @return the Xen guest's domain id (0 for a plain region).
     */
    public int domid()
    {
        return domid;
    }

    /**
     * @return the gntdev descriptor of a grant region (owned by the region), else -1.
     */
    public int grantFd()
    {
        return grantFd;
    }

    /**
     * @return the calls a Xen region maps through, or null.
     */
    public XenSyscalls syscalls()
    {
        return sys;
    }

    /**
     * @return true when the front-end described the same region (REM_MEM_REG matches on these three).
     */
    public boolean matches(final long gpa, final long regionSize, final long uaddr)
    {
        return guestPhysAddr == gpa && size == regionSize && userAddr == uaddr;
    }

    /**
     * Guest-physical ranges compare unsigned (grant addresses have bit 63 set); a region mapped per access has no
     * front-end address range.
     */
    boolean overlaps(final MemoryRegion other)
    {
        return Long.compareUnsigned(guestPhysAddr, other.guestPhysEnd()) < 0
            && Long.compareUnsigned(other.guestPhysAddr, guestPhysEnd()) < 0
            || !isMappedOnAccess() && !other.isMappedOnAccess()
            && userAddr < other.userAddr + other.size && other.userAddr < userAddr + size;
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
        if (left == 0)
        {
            if (null != unmap)
            {
                unmap.run();
            }
            if (grantFd >= 0)
            {
                LibC.closeQuietly(grantFd);
            }
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
            + (kind == XenMmap.Kind.UNIX ? "" : ", xen=" + kind + ", domid=" + domid) + "]";
    }
}
