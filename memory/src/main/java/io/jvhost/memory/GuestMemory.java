package io.jvhost.memory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.memory.xen.GrantWindow;
import io.jvhost.os.Errno;

import static io.jvhost.memory.GuestMemoryException.hex;

/**
 * An immutable snapshot of the guest's memory map: regions sorted by guest-physical address, none overlapping.
 * <p>
 * Two address spaces meet here: descriptors and device payloads carry <em>guest-physical</em> addresses, while the
 * ring addresses of SET_VRING_ADDR are the <em>front-end's virtual</em> addresses. Every translation checks the whole
 * range; accesses may span regions that are adjacent in guest-physical space, and are split at the boundary.
 * <p>
 * A snapshot is reference counted ({@link #tryRetain()}/{@link #release()}): a worker holds one for the duration of
 * a batch, so replacing the map never unmaps memory under a running copy.
 * <p>
 * Guest-physical addresses compare unsigned: Xen grant addresses have bit 63 set ({@link XenMmap}). A grant region
 * mapped per access is copied through this thread's {@link GrantWindow}, mapped for the copy and unmapped after.
 */
public final class GuestMemory
{
    /** No memory at all: every translation fails. */
    public static final GuestMemory EMPTY = new GuestMemory(new MemoryRegion[0]);

    private final MemoryRegion[] regions;
    private final long[] starts;
    private final AtomicInteger refs = new AtomicInteger(1);

    private GuestMemory(final MemoryRegion[] sorted)
    {
        this.regions = sorted;
        this.starts = new long[sorted.length];
        for (int i = 0; i < sorted.length; i++)
        {
            starts[i] = sorted[i].guestPhysAddr();
        }
    }

    /**
     * Builds a snapshot that takes over one reference to each region.
     *
     * @throws GuestMemoryException if two regions overlap (in guest-physical or front-end address space), or there
     *                              are more than {@code maxRegions}.
     */
    public static GuestMemory of(final List<MemoryRegion> regions, final int maxRegions) throws GuestMemoryException
    {
        if (regions.size() > maxRegions)
        {
            throw new GuestMemoryException("too many memory regions: " + regions.size() + " > " + maxRegions);
        }
        final MemoryRegion[] sorted = regions.toArray(new MemoryRegion[0]);
        Arrays.sort(sorted, (a, b) -> Long.compareUnsigned(a.guestPhysAddr(), b.guestPhysAddr()));
        for (int i = 0; i < sorted.length; i++)
        {
            for (int j = i + 1; j < sorted.length; j++)
            {
                if (sorted[i].overlaps(sorted[j]))
                {
                    throw new GuestMemoryException("memory regions overlap: " + sorted[i] + " and " + sorted[j]);
                }
            }
        }
        return new GuestMemory(sorted);
    }

    /**
     * @return a new snapshot with every region of this one (each retained) plus {@code added}.
     */
    public GuestMemory with(final MemoryRegion added, final int maxRegions) throws GuestMemoryException
    {
        final List<MemoryRegion> list = new ArrayList<>(Arrays.asList(regions));
        list.add(added);
        final GuestMemory next = of(list, maxRegions);
        for (final MemoryRegion r : regions)
        {
            r.retain();
        }
        return next;
    }

    /**
     * @return a new snapshot without the region matching {@code gpa, size, uaddr} (the others retained).
     * @throws GuestMemoryException if no region matches.
     */
    public GuestMemory without(final long gpa, final long size, final long uaddr) throws GuestMemoryException
    {
        final List<MemoryRegion> list = new ArrayList<>();
        boolean found = false;
        for (final MemoryRegion r : regions)
        {
            if (!found && r.matches(gpa, size, uaddr))
            {
                found = true;
            }
            else
            {
                list.add(r);
            }
        }
        if (!found)
        {
            throw new GuestMemoryException("no memory region to remove at guest_phys_addr=" + hex(gpa) + ", size="
                + hex(size) + ", userspace_addr=" + hex(uaddr));
        }
        final GuestMemory next = new GuestMemory(list.toArray(new MemoryRegion[0]));
        for (final MemoryRegion r : list)
        {
            r.retain();
        }
        return next;
    }

    public int regionCount()
    {
        return regions.length;
    }

    public MemoryRegion region(final int i)
    {
        return regions[i];
    }

    /**
     * @return the index of the region holding guest-physical address {@code gpa}, or -1.
     */
    public int regionIndexOf(final long gpa)
    {
        int lo = 0;
        int hi = starts.length - 1;
        while (lo <= hi)
        {
            final int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(starts[mid], gpa) <= 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return hi >= 0 && Long.compareUnsigned(gpa, regions[hi].guestPhysEnd()) < 0 ? hi : -1;
    }

    /**
     * @return true when every byte of {@code [gpa, gpa + length)} is guest RAM (possibly across adjacent regions).
     *     A zero length is valid anywhere a region starts or continues.
     */
    public boolean isValidRange(final long gpa, final long length)
    {
        if (length < 0 || Long.compareUnsigned(gpa + length, gpa) < 0)
        {
            return false;
        }
        long addr = gpa;
        long left = length;
        do
        {
            final int index = regionIndexOf(addr);
            if (index < 0)
            {
                return false;
            }
            final long chunk = Math.min(left, regions[index].guestPhysEnd() - addr);
            addr += chunk;
            left -= chunk;
        }
        while (left > 0);
        return true;
    }

    /**
     * Translates a guest-physical range that must lie inside one region (ring parts, small structs).
     *
     * @return a slice of the mapping (allocates: not for per-request use).
     */
    public MemorySegment slice(final long gpa, final long length) throws GuestMemoryException
    {
        final int index = regionIndexOf(gpa);
        if (index < 0 || length < 0 || Long.compareUnsigned(gpa + length, gpa) < 0
            || Long.compareUnsigned(gpa + length, regions[index].guestPhysEnd()) > 0)
        {
            throw new GuestMemoryException("guest range outside a single memory region: gpa=" + hex(gpa)
                + ", length=" + length);
        }
        final MemoryRegion r = regions[index];
        if (r.isMappedOnAccess())
        {
            throw new GuestMemoryException("guest range gpa=" + hex(gpa) + ", length=" + length + " is in a grant"
                + " region mapped per access (NO_ADVANCE_MAP): rings must be in a region mapped in advance, " + r);
        }
        return r.bytes().asSlice(gpa - r.guestPhysAddr(), length);
    }

    /**
     * Translates a front-end virtual range (SET_VRING_ADDR) that must lie inside one region.
     *
     * @return a slice of the mapping.
     */
    public MemorySegment sliceUser(final long uaddr, final long length) throws GuestMemoryException
    {
        for (final MemoryRegion r : regions)
        {
            final long offset = uaddr - r.userAddr();
            if (uaddr >= r.userAddr() && offset < r.size() && !r.isMappedOnAccess())
            {
                if (length < 0 || length > r.size() - offset)
                {
                    break;
                }
                return r.bytes().asSlice(offset, length);
            }
        }
        throw new GuestMemoryException("front-end address range not in guest memory: uaddr=" + hex(uaddr)
            + ", length=" + length);
    }

    /**
     * @return the guest-physical address of a front-end virtual address, or -1 if it is not mapped.
     */
    public long userToGuestPhys(final long uaddr)
    {
        for (final MemoryRegion r : regions)
        {
            if (uaddr >= r.userAddr() && uaddr - r.userAddr() < r.size() && !r.isMappedOnAccess())
            {
                return r.guestPhysAddr() + (uaddr - r.userAddr());
            }
        }
        return -1;
    }

    /**
     * Copies {@code length} bytes from guest-physical {@code gpa} into {@code dst} at {@code dstOffset}.
     */
    public void read(final long gpa, final MemorySegment dst, final long dstOffset, final long length)
        throws GuestMemoryException
    {
        copy(gpa, dst, dstOffset, length, false);
    }

    /**
     * Copies {@code length} bytes from {@code src} at {@code srcOffset} to guest-physical {@code gpa}.
     */
    public void write(final long gpa, final MemorySegment src, final long srcOffset, final long length)
        throws GuestMemoryException
    {
        copy(gpa, src, srcOffset, length, true);
    }

    /**
     * Copies between guest memory and {@code host}, split at region boundaries, after checking the whole range.
     */
    private void copy(final long gpa, final MemorySegment host, final long hostOffset, final long length,
        final boolean toGuest) throws GuestMemoryException
    {
        checkRange(gpa, length);
        long addr = gpa;
        long done = 0;
        while (done < length)
        {
            final MemoryRegion r = regions[regionIndexOf(addr)];
            final long chunk = Math.min(length - done, r.guestPhysEnd() - addr);
            if (r.isMappedOnAccess())
            {
                copyOnAccess(r, addr, host, hostOffset + done, chunk, toGuest);
            }
            else if (toGuest)
            {
                MemorySegment.copy(host, hostOffset + done, r.bytes(), addr - r.guestPhysAddr(), chunk);
            }
            else
            {
                MemorySegment.copy(r.bytes(), addr - r.guestPhysAddr(), host, hostOffset + done, chunk);
            }
            addr += chunk;
            done += chunk;
        }
    }

    /**
     * Copies through this thread's grant window, window by window, unmapping after each.
     */
    private static void copyOnAccess(final MemoryRegion r, final long gpa, final MemorySegment host,
        final long hostOffset, final long length, final boolean toGuest) throws GuestMemoryException
    {
        final GrantWindow window = GrantWindow.forThread();
        long done = 0;
        try
        {
            while (done < length)
            {
                final long addr = gpa + done;
                final long n = window.map(r.syscalls(), r.grantFd(), r.domid(), addr, length - done);
                if (n < 0)
                {
                    throw new GuestMemoryException("cannot map the grants of gpa=" + hex(addr) + " (ref "
                        + XenMmap.firstRef(addr) + ", domid " + r.domid() + "): " + Errno.name((int)-n));
                }
                final long at = addr & (XenMmap.PAGE_SIZE - 1);
                if (toGuest)
                {
                    MemorySegment.copy(host, hostOffset + done, window.segment(), at, n);
                }
                else
                {
                    MemorySegment.copy(window.segment(), at, host, hostOffset + done, n);
                }
                window.unmap();
                done += n;
            }
        }
        finally
        {
            window.unmap();
        }
    }

    /**
     * Checks the whole range before any byte moves, so a failing access leaves guest memory untouched.
     */
    private void checkRange(final long gpa, final long length) throws GuestMemoryException
    {
        if (length < 0 || Long.compareUnsigned(gpa + length, gpa) < 0)
        {
            throw new GuestMemoryException("invalid guest range: gpa=" + hex(gpa) + ", length=" + length);
        }
        long addr = gpa;
        final long end = gpa + length;
        while (Long.compareUnsigned(addr, end) < 0)
        {
            final int index = regionIndexOf(addr);
            if (index < 0)
            {
                throw outside(gpa, length, addr);
            }
            addr = regions[index].guestPhysEnd();
        }
    }

    private static GuestMemoryException outside(final long gpa, final long length, final long at)
    {
        return new GuestMemoryException("guest range not in memory: gpa=" + hex(gpa) + ", length=" + length
            + " (first unmapped byte at " + hex(at) + ")");
    }

    /**
     * Takes a reference unless the snapshot has already been released.
     *
     * @return false if released (the caller should read the current snapshot again).
     */
    public boolean tryRetain()
    {
        int n;
        do
        {
            n = refs.get();
            if (n <= 0)
            {
                return false;
            }
        }
        while (!refs.compareAndSet(n, n + 1));
        return true;
    }

    /**
     * Drops a reference; the last one releases every region.
     */
    public void release()
    {
        if (this == EMPTY)
        {
            return;
        }
        final int left = refs.decrementAndGet();
        if (left == 0)
        {
            for (final MemoryRegion r : regions)
            {
                r.release();
            }
        }
        else if (left < 0)
        {
            throw new IllegalStateException("guest memory snapshot released twice");
        }
    }

    @Override
    public String toString()
    {
        return "GuestMemory" + Arrays.toString(regions);
    }
}
