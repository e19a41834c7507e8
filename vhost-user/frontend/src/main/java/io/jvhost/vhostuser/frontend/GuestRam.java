package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;

/**
 * Guest RAM for an in-process front-end: one memfd, mapped once in this process, cut into regions the way QEMU
 * describes a RAM block to a vhost-user back-end.
 * <pre>
 *  memfd / our mapping:  | region 0            | region 1            | ...
 *                        0                     regionSize            (mmap_offset of each region)
 *  guest-physical:       | baseGpa ..          |(gap)| next region ..  (adjacent when gap = 0)
 *  userspace_addr:       mapping address + mmap_offset (this process's virtual address, like QEMU's)
 * </pre>
 * Regions are adjacent in guest-physical space by default, so buffers and chains can span a region boundary; a gap
 * can be put between them. A bump allocator hands out guest-physical ranges ({@link #allocate}); an allocation never
 * crosses a gap. All accessors take guest-physical addresses. Not thread-safe for allocation; reads and writes of
 * distinct ranges may run concurrently.
 */
public final class GuestRam implements AutoCloseable
{
    /** Page size every region is a multiple of. */
    public static final long PAGE_SIZE = 4096;

    /**
     * One region as the front-end announces it (SET_MEM_TABLE / ADD_MEM_REG).
     *
     * @param guestPhysAddr guest-physical address of the first byte.
     * @param size          bytes.
     * @param userAddr      this process's virtual address of the first byte (userspace_addr).
     * @param mmapOffset    offset of the region in the memfd.
     */
    public record Region(long guestPhysAddr, long size, long userAddr, long mmapOffset)
    {
        /**
         * @return one past the last guest-physical address.
         */
        public long guestPhysEnd()
        {
            return guestPhysAddr + size;
        }

        /**
         * @return true when {@code gpa} lies in this region.
         */
        public boolean contains(final long gpa)
        {
            return gpa >= guestPhysAddr && gpa - guestPhysAddr < size;
        }
    }

    /**
     * Options for {@link GuestRam}.
     */
    public static final class Builder
    {
        private long size = 16L << 20;
        private int regions = 1;
        private long baseGpa;
        private long gap;
        private String name = "jvhost-guest-ram";

        private Builder()
        {
        }

        /**
         * Total bytes of RAM (all regions), a multiple of {@code regions * 4096}. Default 16 MiB.
         */
        public Builder size(final long bytes)
        {
            this.size = bytes;
            return this;
        }

        /**
         * Number of equally sized regions (1 or more). Default 1.
         */
        public Builder regions(final int count)
        {
            this.regions = count;
            return this;
        }

        /**
         * Guest-physical address of the first region (page-aligned). Default 0.
         */
        public Builder baseGpa(final long gpa)
        {
            this.baseGpa = gpa;
            return this;
        }

        /**
         * Guest-physical hole between consecutive regions (page-aligned). Default 0: regions are adjacent.
         */
        public Builder gap(final long bytes)
        {
            this.gap = bytes;
            return this;
        }

        /**
         * The memfd's name (shows in /proc/PID/maps).
         */
        public Builder name(final String memfdName)
        {
            this.name = Objects.requireNonNull(memfdName);
            return this;
        }

        public GuestRam build() throws NativeException
        {
            return new GuestRam(this);
        }
    }

    private final MemFd memFd;
    private final MappedMemory mapping;
    private final MemorySegment segment;
    private final List<Region> regions;
    private final Region[] byIndex;
    private final long regionSize;
    private long next;

    private GuestRam(final Builder b) throws NativeException
    {
        if (b.regions < 1)
        {
            throw new IllegalArgumentException("at least one region is needed, regions=" + b.regions);
        }
        if (b.size <= 0 || b.size % (b.regions * PAGE_SIZE) != 0)
        {
            throw new IllegalArgumentException("size must be a positive multiple of regions * " + PAGE_SIZE
                + ", size=" + b.size + ", regions=" + b.regions);
        }
        if (b.baseGpa < 0 || b.baseGpa % PAGE_SIZE != 0 || b.gap < 0 || b.gap % PAGE_SIZE != 0)
        {
            throw new IllegalArgumentException("baseGpa and gap must be non-negative multiples of " + PAGE_SIZE
                + ", baseGpa=0x" + Long.toHexString(b.baseGpa) + ", gap=0x" + Long.toHexString(b.gap));
        }
        this.regionSize = b.size / b.regions;
        final MemFd fd = MemFd.create(b.name, b.size);
        final MappedMemory map;
        try
        {
            map = fd.map();
        }
        catch (final NativeException | RuntimeException e)
        {
            fd.close();
            throw e;
        }
        this.memFd = fd;
        this.mapping = map;
        this.segment = map.segment();
        final List<Region> list = new ArrayList<>(b.regions);
        for (int i = 0; i < b.regions; i++)
        {
            final long offset = i * regionSize;
            list.add(new Region(b.baseGpa + i * (regionSize + b.gap), regionSize, segment.address() + offset,
                offset));
        }
        this.regions = Collections.unmodifiableList(list);
        this.byIndex = list.toArray(new Region[0]);
        this.next = b.baseGpa;
    }

    /**
     * @return a builder with the defaults (16 MiB, one region at guest-physical 0).
     */
    public static Builder builder()
    {
        return new Builder();
    }

    /**
     * @return {@code size} bytes of RAM in {@code regions} adjacent regions from guest-physical 0.
     */
    public static GuestRam create(final long size, final int regions) throws NativeException
    {
        return builder().size(size).regions(regions).build();
    }

    /**
     * @return the regions in guest-physical order.
     */
    public List<Region> regions()
    {
        return regions;
    }

    /**
     * @return region {@code i}.
     */
    public Region region(final int i)
    {
        return byIndex[i];
    }

    public int regionCount()
    {
        return byIndex.length;
    }

    /**
     * @return the memfd every region is a slice of (its descriptor goes with SET_MEM_TABLE / ADD_MEM_REG).
     */
    public int fd()
    {
        return memFd.fd();
    }

    /**
     * @return the size of the memfd (all regions).
     */
    public long size()
    {
        return memFd.size();
    }

    /**
     * @return the whole mapping: region {@code i} starts at offset {@code region(i).mmapOffset()}.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * @return the index of the region holding {@code gpa}, or -1.
     */
    public int regionIndexOf(final long gpa)
    {
        for (int i = 0; i < byIndex.length; i++)
        {
            if (byIndex[i].contains(gpa))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return the offset in {@link #segment()} of guest-physical {@code gpa}.
     * @throws IllegalArgumentException if {@code gpa} is not RAM.
     */
    public long offsetOf(final long gpa)
    {
        final int i = regionIndexOf(gpa);
        if (i < 0)
        {
            throw new IllegalArgumentException("guest-physical address not in RAM: 0x" + Long.toHexString(gpa));
        }
        return byIndex[i].mmapOffset() + (gpa - byIndex[i].guestPhysAddr());
    }

    /**
     * @return this process's virtual address of guest-physical {@code gpa}: what SET_VRING_ADDR carries.
     */
    public long userAddrOf(final long gpa)
    {
        final int i = regionIndexOf(gpa);
        if (i < 0)
        {
            throw new IllegalArgumentException("guest-physical address not in RAM: 0x" + Long.toHexString(gpa));
        }
        return byIndex[i].userAddr() + (gpa - byIndex[i].guestPhysAddr());
    }

    /**
     * @return true when every byte of {@code [gpa, gpa + length)} is RAM (possibly across adjacent regions).
     */
    public boolean isRam(final long gpa, final long length)
    {
        if (length < 0 || gpa < 0 || gpa + length < 0)
        {
            return false;
        }
        long addr = gpa;
        long left = length;
        do
        {
            final int i = regionIndexOf(addr);
            if (i < 0)
            {
                return false;
            }
            final long chunk = Math.min(left, byIndex[i].guestPhysEnd() - addr);
            addr += chunk;
            left -= chunk;
        }
        while (left > 0);
        return true;
    }

    /**
     * @return the first guest-physical address of the largest run of regions around {@code gpa} that is contiguous
     *     both in guest-physical space and in our mapping (every region when there is no gap).
     */
    public long runStart(final long gpa)
    {
        int i = requireRegion(gpa);
        while (i > 0 && contiguous(i - 1))
        {
            i--;
        }
        return byIndex[i].guestPhysAddr();
    }

    /**
     * @return the bytes of the run {@link #runStart(long)} begins, guest-physical {@code runStart(gpa)} at offset 0.
     */
    public MemorySegment runSegment(final long gpa)
    {
        int first = requireRegion(gpa);
        while (first > 0 && contiguous(first - 1))
        {
            first--;
        }
        int last = first;
        while (last + 1 < byIndex.length && contiguous(last))
        {
            last++;
        }
        final long start = byIndex[first].mmapOffset();
        return segment.asSlice(start, byIndex[last].mmapOffset() + byIndex[last].size() - start);
    }

    /**
     * @return true when region {@code i + 1} follows region {@code i} without a hole in either address space.
     */
    private boolean contiguous(final int i)
    {
        return byIndex[i].guestPhysEnd() == byIndex[i + 1].guestPhysAddr()
            && byIndex[i].mmapOffset() + byIndex[i].size() == byIndex[i + 1].mmapOffset();
    }

    private int requireRegion(final long gpa)
    {
        final int i = regionIndexOf(gpa);
        if (i < 0)
        {
            throw new IllegalArgumentException("guest-physical address not in RAM: 0x" + Long.toHexString(gpa));
        }
        return i;
    }

    /**
     * @return a slice of our mapping for {@code [gpa, gpa + length)}, which must be RAM without a hole in it.
     */
    public MemorySegment slice(final long gpa, final long length)
    {
        if (!isRam(gpa, length))
        {
            throw new IllegalArgumentException("guest range not in RAM: gpa=0x" + Long.toHexString(gpa) + ", length="
                + length);
        }
        final long runStart = runStart(gpa);
        final MemorySegment run = runSegment(gpa);
        if (gpa - runStart + length > run.byteSize())
        {
            throw new IllegalArgumentException("guest range crosses a hole between regions: gpa=0x"
                + Long.toHexString(gpa) + ", length=" + length);
        }
        return run.asSlice(gpa - runStart, length);
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code srcOffset} to guest-physical {@code gpa}.
     */
    public void write(final long gpa, final MemorySegment src, final long srcOffset, final long length)
    {
        long addr = gpa;
        long done = 0;
        while (done < length)
        {
            final Region r = byIndex[requireRegion(addr)];
            final long chunk = Math.min(length - done, r.guestPhysEnd() - addr);
            MemorySegment.copy(src, srcOffset + done, segment, r.mmapOffset() + (addr - r.guestPhysAddr()), chunk);
            addr += chunk;
            done += chunk;
        }
    }

    /**
     * Copies {@code length} bytes from guest-physical {@code gpa} into {@code dst} at {@code dstOffset}.
     */
    public void read(final long gpa, final MemorySegment dst, final long dstOffset, final long length)
    {
        long addr = gpa;
        long done = 0;
        while (done < length)
        {
            final Region r = byIndex[requireRegion(addr)];
            final long chunk = Math.min(length - done, r.guestPhysEnd() - addr);
            MemorySegment.copy(segment, r.mmapOffset() + (addr - r.guestPhysAddr()), dst, dstOffset + done, chunk);
            addr += chunk;
            done += chunk;
        }
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code srcOffset} to guest-physical {@code gpa}.
     */
    public void write(final long gpa, final byte[] src, final int srcOffset, final int length)
    {
        write(gpa, MemorySegment.ofArray(src), srcOffset, length);
    }

    /**
     * Copies {@code length} bytes from guest-physical {@code gpa} into {@code dst} at {@code dstOffset}.
     */
    public void read(final long gpa, final byte[] dst, final int dstOffset, final int length)
    {
        read(gpa, MemorySegment.ofArray(dst), dstOffset, length);
    }

    /**
     * @return {@code length} bytes read from guest-physical {@code gpa} (allocates).
     */
    public byte[] read(final long gpa, final int length)
    {
        final byte[] bytes = new byte[length];
        read(gpa, bytes, 0, length);
        return bytes;
    }

    /**
     * Fills {@code [gpa, gpa + length)} with {@code value}.
     */
    public void fill(final long gpa, final long length, final byte value)
    {
        long addr = gpa;
        long done = 0;
        while (done < length)
        {
            final Region r = byIndex[requireRegion(addr)];
            final long chunk = Math.min(length - done, r.guestPhysEnd() - addr);
            segment.asSlice(r.mmapOffset() + (addr - r.guestPhysAddr()), chunk).fill(value);
            addr += chunk;
            done += chunk;
        }
    }

    /**
     * @return the byte at guest-physical {@code gpa}.
     */
    public byte getByte(final long gpa)
    {
        return segment.get(ValueLayout.JAVA_BYTE, offsetOf(gpa));
    }

    /**
     * Stores a byte at guest-physical {@code gpa}.
     */
    public void setByte(final long gpa, final byte value)
    {
        segment.set(ValueLayout.JAVA_BYTE, offsetOf(gpa), value);
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Bump allocator

    /**
     * Hands out {@code length} bytes aligned to {@code alignment} (a power of two). The range may span adjacent
     * regions but never a hole between them.
     *
     * @return the guest-physical address of the first byte.
     * @throws IllegalStateException when RAM is exhausted.
     */
    public long allocate(final long length, final long alignment)
    {
        if (length <= 0)
        {
            throw new IllegalArgumentException("allocation length must be positive, length=" + length);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1)
        {
            throw new IllegalArgumentException("alignment must be a power of two, alignment=" + alignment);
        }
        long candidate = align(next, alignment);
        while (true)
        {
            if (regionIndexOf(candidate) >= 0)
            {
                final long runEnd = runEnd(candidate);
                if (length <= runEnd - candidate)
                {
                    next = candidate + length;
                    return candidate;
                }
                candidate = runEnd;
            }
            // In a hole, past the end, or the run is too short: continue at the next region.
            final long nextStart = nextRegionStart(candidate);
            if (nextStart < 0)
            {
                throw new IllegalStateException("guest RAM exhausted: cannot allocate " + length + " bytes (alignment "
                    + alignment + ") after 0x" + Long.toHexString(next) + " in " + regions);
            }
            candidate = align(nextStart, alignment);
        }
    }

    /**
     * @return one past the last guest-physical address of the contiguous run holding {@code gpa}.
     */
    private long runEnd(final long gpa)
    {
        int last = requireRegion(gpa);
        while (last + 1 < byIndex.length && contiguous(last))
        {
            last++;
        }
        return byIndex[last].guestPhysEnd();
    }

    /**
     * Reserves {@code [gpa, gpa + length)}, which must be RAM at or after the allocator's position, and moves the
     * position past it (to place a buffer exactly, e.g. across a region boundary).
     *
     * @return {@code gpa}.
     */
    public long allocateAt(final long gpa, final long length)
    {
        if (gpa < next)
        {
            throw new IllegalArgumentException("0x" + Long.toHexString(gpa) + " is already allocated (next free 0x"
                + Long.toHexString(next) + ")");
        }
        if (length <= 0 || !isRam(gpa, length))
        {
            throw new IllegalArgumentException("not RAM: gpa=0x" + Long.toHexString(gpa) + ", length=" + length);
        }
        next = gpa + length;
        return gpa;
    }

    /**
     * @return the allocator's position: the lowest guest-physical address not handed out yet.
     */
    public long nextFree()
    {
        return next;
    }

    /**
     * Moves the allocator's position back to {@code position} (a value {@link #nextFree()} returned earlier),
     * releasing everything allocated since.
     */
    public void releaseTo(final long position)
    {
        if (position > next)
        {
            throw new IllegalArgumentException("cannot release forward: position=0x" + Long.toHexString(position));
        }
        next = position;
    }

    private long nextRegionStart(final long gpa)
    {
        long best = -1;
        for (final Region r : byIndex)
        {
            if (r.guestPhysAddr() >= gpa && (best < 0 || r.guestPhysAddr() < best))
            {
                best = r.guestPhysAddr();
            }
        }
        return best;
    }

    private static long align(final long value, final long alignment)
    {
        return (value + alignment - 1) & -alignment;
    }

    /**
     * Shrinks the memfd to {@code bytes}, as a hostile front-end may after SET_MEM_TABLE: every mapping of the pages
     * past the new end, the back-end's and this one's, faults from then on. Touch nothing past it afterwards (not
     * even through {@link FrontendQueue#kick()}, which reads the ring: signal {@link FrontendQueue#kickFd()}).
     */
    public void truncate(final long bytes) throws NativeException
    {
        LibC.ftruncate(memFd.fd(), bytes);
    }

    /**
     * Unmaps and closes the memfd. A back-end that mapped the regions keeps its own mapping.
     */
    @Override
    public void close()
    {
        mapping.close();
        memFd.close();
    }

    @Override
    public String toString()
    {
        return "GuestRam[fd=" + memFd.fd() + ", regions=" + regions + "]";
    }
}
