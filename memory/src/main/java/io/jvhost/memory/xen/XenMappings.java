package io.jvhost.memory.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.os.Errno;

/**
 * Maps a whole Xen region when it arrives (SET_MEM_TABLE, ADD_MEM_REG): foreign frames through privcmd, or grants
 * through gntdev. Each call leaves nothing mapped when it fails.
 */
public final class XenMappings
{
    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;

    /** A mapped range and how to undo it. */
    public record Mapped(long address, long length, Runnable unmap)
    {
    }

    private XenMappings()
    {
    }

    /**
     * Foreign mapping, as xen-vhost-frontend's regions and rust-vmm's vm-memory expect it: {@code mmap} of
     * {@code length} bytes of the privcmd descriptor at offset 0, then one {@code IOCTL_PRIVCMD_MMAPBATCH_V2} for the
     * frames {@code firstGfn .. firstGfn + pages - 1} of {@code domid} (privcmd requires the whole range in one
     * batch).
     *
     * @throws XenMapException with the errno name, or the first frame the hypervisor refused and its error.
     */
    public static Mapped foreign(final XenSyscalls sys, final int fd, final int domid, final long firstGfn,
        final long length) throws XenMapException
    {
        final long pages = length >>> PAGE_SHIFT;
        final String what = "domid=" + domid + ", gfn=0x" + Long.toHexString(firstGfn) + ", pages=" + pages
            + " (privcmd fd=" + fd + ")";
        final long address = sys.mmapShared(0, length, fd, 0);
        if (address < 0)
        {
            throw new XenMapException("mmap of the privcmd descriptor failed: " + Errno.name((int)-address) + ", "
                + what);
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment arr = arena.allocate(ValueLayout.JAVA_LONG, pages);
            final MemorySegment err = arena.allocate(ValueLayout.JAVA_INT, pages);
            for (long i = 0; i < pages; i++)
            {
                arr.setAtIndex(ValueLayout.JAVA_LONG, i, firstGfn + i);
            }
            final MemorySegment batch = arena.allocate(PrivcmdMmapBatchV2.SIZE, 8);
            new PrivcmdMmapBatchV2().wrap(batch).set((int)pages, domid, address, arr, err);
            final int rc = sys.ioctl(fd, PrivcmdMmapBatchV2.IOCTL_PRIVCMD_MMAPBATCH_V2, batch);
            String failed = rc < 0 ? "IOCTL_PRIVCMD_MMAPBATCH_V2 failed: " + Errno.name(-rc) : null;
            for (long i = 0; i < pages && null == failed; i++)
            {
                final int e = err.getAtIndex(ValueLayout.JAVA_INT, i);
                if (e != 0)
                {
                    failed = "IOCTL_PRIVCMD_MMAPBATCH_V2 refused gfn 0x" + Long.toHexString(firstGfn + i) + ": "
                        + Errno.name(-e);
                }
            }
            if (null != failed)
            {
                sys.munmap(address, length);
                throw new XenMapException(failed + ", " + what);
            }
        }
        return new Mapped(address, length, () -> sys.munmap(address, length));
    }

    /**
     * Grant mapping of {@code pages} consecutive references from {@code firstRef} of {@code domid}:
     * {@code IOCTL_GNTDEV_MAP_GRANT_REF}, then {@code mmap} of the gntdev descriptor at the index it answered. The
     * unmap is {@code munmap} then {@code IOCTL_GNTDEV_UNMAP_GRANT_REF}; the caller keeps {@code fd} open until then.
     *
     * @throws XenMapException with the errno name.
     */
    public static Mapped grant(final XenSyscalls sys, final int fd, final int domid, final long firstRef,
        final int pages) throws XenMapException
    {
        final long length = (long)pages << PAGE_SHIFT;
        final String what = "domid=" + domid + ", refs " + firstRef + ".." + (firstRef + pages - 1) + " (gntdev fd="
            + fd + ")";
        final long index;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment buffer = arena.allocate(GntdevMapGrantRef.size(pages), 8);
            final GntdevMapGrantRef request = new GntdevMapGrantRef().wrap(buffer)
                .setConsecutive(domid, (int)firstRef, pages);
            final int rc = sys.ioctl(fd, GntdevMapGrantRef.IOCTL_GNTDEV_MAP_GRANT_REF, buffer);
            if (rc < 0)
            {
                throw new XenMapException("IOCTL_GNTDEV_MAP_GRANT_REF failed: " + Errno.name(-rc) + ", " + what);
            }
            index = request.index();
        }
        final long address = sys.mmapShared(0, length, fd, index);
        if (address < 0)
        {
            unmapGrantRef(sys, fd, index, pages);
            throw new XenMapException("mmap of the gntdev descriptor at index 0x" + Long.toHexString(index)
                + " failed: " + Errno.name((int)-address) + ", " + what);
        }
        return new Mapped(address, length, () ->
        {
            sys.munmap(address, length);
            unmapGrantRef(sys, fd, index, pages);
        });
    }

    private static void unmapGrantRef(final XenSyscalls sys, final int fd, final long index, final int pages)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment buffer = arena.allocate(GntdevUnmapGrantRef.SIZE, 8);
            new GntdevUnmapGrantRef().wrap(buffer).set(index, pages);
            final int rc = sys.ioctl(fd, GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF, buffer);
            if (rc < 0)
            {
                System.getLogger(XenMappings.class.getName()).log(System.Logger.Level.WARNING,
                    "IOCTL_GNTDEV_UNMAP_GRANT_REF failed: " + Errno.name(-rc) + ", index=0x" + Long.toHexString(index)
                        + ", count=" + pages + " (gntdev fd=" + fd + ")");
            }
        }
    }
}
