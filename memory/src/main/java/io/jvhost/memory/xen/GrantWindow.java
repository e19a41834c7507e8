package io.jvhost.memory.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.jvhost.os.LibC;

/**
 * A fixed piece of address space through which a thread reaches grant regions mapped per access
 * (GRANT|NO_ADVANCE_MAP): {@link #map} puts up to {@link #PAGES} granted pages there ({@code MAP_GRANT_REF}, then
 * {@code mmap MAP_FIXED} at the index), {@link #unmap} takes them away (the range becomes {@code PROT_NONE} again,
 * then {@code UNMAP_GRANT_REF}). The window's segment and ioctl buffers are made once, so an access allocates
 * nothing. One window per thread ({@link #forThread()}); callers unmap after every access, so a window never holds
 * a guest page between accesses.
 */
public final class GrantWindow
{
    /** Pages mapped at once: a longer access is done window by window. */
    public static final int PAGES = 16;
    public static final long BYTES = (long)PAGES * XenMappings.PAGE_SIZE;

    private static final ThreadLocal<GrantWindow> PER_THREAD = ThreadLocal.withInitial(GrantWindow::new);

    private final long address;
    private final MemorySegment segment;
    private final MemorySegment mapBuffer;
    private final MemorySegment unmapBuffer;
    private final GntdevMapGrantRef mapRequest = new GntdevMapGrantRef();
    private final GntdevUnmapGrantRef unmapRequest = new GntdevUnmapGrantRef();

    private XenSyscalls mappedSys;
    private int mappedFd;
    private long mappedIndex;
    private int mappedPages;

    private GrantWindow()
    {
        final long at = LibC.mmapRaw(0, BYTES, LibC.PROT_NONE,
            LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        if (at < 0)
        {
            throw new IllegalStateException("cannot reserve " + BYTES + " bytes for a grant window: errno " + -at);
        }
        address = at;
        final Arena arena = Arena.ofAuto();
        segment = MemorySegment.ofAddress(at).reinterpret(BYTES, arena, ignored -> LibC.munmapRaw(at, BYTES));
        mapBuffer = arena.allocate(GntdevMapGrantRef.size(PAGES), 8);
        unmapBuffer = arena.allocate(GntdevUnmapGrantRef.SIZE, 8);
        mapRequest.wrap(mapBuffer);
        unmapRequest.wrap(unmapBuffer);
    }

    /**
     * @return this thread's window (made on first use).
     */
    public static GrantWindow forThread()
    {
        return PER_THREAD.get();
    }

    /**
     * @return the whole window: the byte at grant address {@code gpa} is at offset {@code gpa & 4095} after
     *     {@link #map}.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * Maps the pages holding {@code [gpa, gpa + length)}, at most {@link #PAGES} of them, granted by {@code domid}
     * (references counted from the grant address, consecutively). Unmaps what was mapped before.
     *
     * @param fd the gntdev descriptor of the region.
     * @return how many bytes from {@code gpa} are now reachable (at least 1, at most {@code length}), or
     *     {@code -errno} when the grants could not be mapped.
     */
    public long map(final XenSyscalls sys, final int fd, final int domid, final long gpa, final long length)
    {
        unmap();
        final long pageOffset = gpa & (XenMappings.PAGE_SIZE - 1);
        final int pages = (int)Math.min(PAGES, (pageOffset + length + XenMappings.PAGE_SIZE - 1)
            >>> XenMappings.PAGE_SHIFT);
        mapRequest.setConsecutive(domid, (int)((gpa & ~(1L << 63)) >>> XenMappings.PAGE_SHIFT), pages);
        final int rc = sys.ioctl(fd, GntdevMapGrantRef.IOCTL_GNTDEV_MAP_GRANT_REF, mapBuffer);
        if (rc < 0)
        {
            return rc;
        }
        final long index = mapRequest.index();
        final long bytes = (long)pages << XenMappings.PAGE_SHIFT;
        final long at = sys.mmapShared(address, bytes, fd, index);
        if (at != address)
        {
            unmapRequest.set(index, pages);
            sys.ioctl(fd, GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF, unmapBuffer);
            sys.reserve(address, bytes);
            return at < 0 ? at : -22;
        }
        mappedSys = sys;
        mappedFd = fd;
        mappedIndex = index;
        mappedPages = pages;
        return Math.min(length, bytes - pageOffset);
    }

    /**
     * Unmaps what {@link #map} mapped, if anything.
     */
    public void unmap()
    {
        if (0 == mappedPages)
        {
            return;
        }
        final int pages = mappedPages;
        mappedPages = 0;
        mappedSys.reserve(address, (long)pages << XenMappings.PAGE_SHIFT);
        unmapRequest.set(mappedIndex, pages);
        mappedSys.ioctl(mappedFd, GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF, unmapBuffer);
    }

    /**
     * @return true while pages are mapped (tests).
     */
    public boolean isMapped()
    {
        return 0 != mappedPages;
    }
}
