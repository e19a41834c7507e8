package io.jvhost.memory;

import static io.jvhost.memory.GuestMemoryException.hex;

/**
 * The Xen part of a vhost-user memory region (VHOST_USER_PROTOCOL_F_XEN_MMAP): how the back-end maps the region,
 * and the guest's domain id.
 * <pre>
 * xen_mmap_flags (u32)   0x0   plain mmap(fd, mmap_offset), as without Xen ("UNIX")
 *                        0x1   FOREIGN: fd is /dev/xen/privcmd; the whole region is mapped when it arrives
 *                        0x2   GRANT: fd is /dev/xen/gntdev; guest_phys_addr has bit 63 set, and page n of the
 *                              region is grant reference (guest_phys_addr &amp; ~bit 63) / 4096 + n
 *                        0x8   with GRANT: not mapped in advance; each access maps the pages it touches and
 *                              unmaps them after (rust-vmm's vm-memory, and xen-vhost-frontend, send this)
 *                        0x100 the same, as QEMU's vhost-user.rst numbers it ("Bit 8"); both are accepted
 * xen_mmap_data (u32)    the guest's domain id (1 .. 0x7FEF); 0 for UNIX
 * </pre>
 * Valid combinations: 0, FOREIGN, GRANT, GRANT|NO_ADVANCE_MAP. Xen regions have mmap_offset 0, are whole 4 KiB pages
 * and at most {@link #MAX_REGION_SIZE} long (the mapping requests grow with the page count).
 */
public final class XenMmap
{
    public static final int UNIX = 0x0;
    public static final int FOREIGN = 0x1;
    public static final int GRANT = 0x2;
    /** rust-vmm's MmapXenFlags::NO_ADVANCE_MAP. */
    public static final int NO_ADVANCE_MAP = 0x8;
    /** vhost-user.rst's "Bit 8": the same meaning as {@link #NO_ADVANCE_MAP}. */
    public static final int NO_ADVANCE_MAP_SPEC = 0x100;

    /** Grant "addresses" carry this bit (Linux's XEN_GRANT_DMA_ADDR_OFF). */
    public static final long GRANT_ADDR_OFF = 1L << 63;
    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;
    /** DOMID_FIRST_RESERVED: ids from here up (DOMID_SELF, DOMID_IO, ...) are not guests. */
    public static final int DOMID_FIRST_RESERVED = 0x7FF0;
    /** 64 GiB: 16 Mi pages, 192 MiB of transient gfn and error arrays for a foreign batch. */
    public static final long MAX_REGION_SIZE = 64L << 30;
    /** Grant references are u32; a grant region's refs must not wrap. */
    private static final long MAX_GRANT_REF = 0xFFFF_FFFFL;

    /** How a region is mapped, decided once from its flags. */
    public enum Kind
    {
        /** mmap of the fd, as without Xen. */
        UNIX,
        /** privcmd IOCTL_PRIVCMD_MMAPBATCH_V2, whole region at once. */
        FOREIGN,
        /** gntdev IOCTL_GNTDEV_MAP_GRANT_REF, whole region at once. */
        GRANT,
        /** gntdev, per access. */
        GRANT_ON_ACCESS
    }

    private XenMmap()
    {
    }

    /**
     * Checks a Xen region description from the front-end and says how to map it.
     *
     * @throws GuestMemoryException naming the offending values when the flags are not one of the valid
     *                              combinations, the domain id is not a guest's, a FOREIGN or GRANT region has a
     *                              non-zero mmap_offset or is not whole pages, or a GRANT region's address lacks
     *                              bit 63 or its references would pass 2^32.
     */
    public static Kind validate(final int flags, final int domid, final long gpa, final long size,
        final long mmapOffset) throws GuestMemoryException
    {
        final Kind kind = kind(flags);
        final String what = "xen_mmap_flags=" + hex(Integer.toUnsignedLong(flags)) + ", xen_mmap_data (domid)="
            + Integer.toUnsignedString(domid) + ", guest_phys_addr=" + hex(gpa) + ", size=" + hex(size)
            + ", mmap_offset=" + hex(mmapOffset);
        if (kind == Kind.UNIX)
        {
            if (domid != 0)
            {
                throw new GuestMemoryException("Xen region without FOREIGN or GRANT must have domid 0: " + what);
            }
            return kind;
        }
        if (domid <= 0 || domid >= DOMID_FIRST_RESERVED)
        {
            throw new GuestMemoryException("Xen region's domid must be a guest's, 1.." + (DOMID_FIRST_RESERVED - 1)
                + " (0 is dom0 itself, from " + hex(DOMID_FIRST_RESERVED) + " up reserved ids): " + what);
        }
        if (mmapOffset != 0)
        {
            throw new GuestMemoryException("Xen " + kind + " region must have mmap_offset 0: " + what);
        }
        if (size <= 0 || size > MAX_REGION_SIZE || (size & (PAGE_SIZE - 1)) != 0 || (gpa & (PAGE_SIZE - 1)) != 0)
        {
            throw new GuestMemoryException("Xen " + kind + " region must be whole 4 KiB pages, at most "
                + hex(MAX_REGION_SIZE) + " bytes: " + what);
        }
        if (kind == Kind.FOREIGN)
        {
            if (gpa < 0 || gpa + size < 0)
            {
                throw new GuestMemoryException("Xen FOREIGN region must lie below 2^63 (bit 63 marks grants): "
                    + what);
            }
            return kind;
        }
        if ((gpa & GRANT_ADDR_OFF) == 0)
        {
            throw new GuestMemoryException("Xen GRANT region's guest_phys_addr must have bit 63 set: " + what);
        }
        final long lastRef = firstRef(gpa) + (size >>> PAGE_SHIFT) - 1;
        if (lastRef > MAX_GRANT_REF)
        {
            throw new GuestMemoryException("Xen GRANT region's grant references pass 2^32 (last "
                + hex(lastRef) + "): " + what);
        }
        return kind;
    }

    /**
     * @throws GuestMemoryException for anything but 0, FOREIGN, GRANT, GRANT|0x8 and GRANT|0x100.
     */
    public static Kind kind(final int flags) throws GuestMemoryException
    {
        return switch (flags)
        {
            case UNIX -> Kind.UNIX;
            case FOREIGN -> Kind.FOREIGN;
            case GRANT -> Kind.GRANT;
            case GRANT | NO_ADVANCE_MAP, GRANT | NO_ADVANCE_MAP_SPEC -> Kind.GRANT_ON_ACCESS;
            default -> throw new GuestMemoryException("invalid xen_mmap_flags " + hex(Integer.toUnsignedLong(flags))
                + ": valid are 0, FOREIGN 0x1, GRANT 0x2, GRANT|NO_ADVANCE_MAP 0xa (or 0x102, the spec's bit 8)");
        };
    }

    /**
     * @return the grant reference of the page holding grant address {@code gpa}.
     */
    public static long firstRef(final long gpa)
    {
        return (gpa & ~GRANT_ADDR_OFF) >>> PAGE_SHIFT;
    }
}
