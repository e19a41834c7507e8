package io.jvhost.memory.xen;

import java.lang.foreign.MemorySegment;

import io.jvhost.os.LibC;

/**
 * The system calls the Xen mappings make, as a seam: {@link #LINUX} makes them; a test passes a fake that plays
 * privcmd and gntdev over a memfd of "guest RAM" and records each request's bytes. Every method is allocation-free
 * and returns {@code -errno} instead of throwing (the per-access grant path calls them for every buffer).
 */
public interface XenSyscalls
{
    /** The real calls. */
    XenSyscalls LINUX = new XenSyscalls()
    {
        @Override
        public long mmapShared(final long fixedAddress, final long length, final int fd, final long offset)
        {
            return LibC.mmapRaw(fixedAddress, length, LibC.PROT_READ | LibC.PROT_WRITE,
                LibC.MAP_SHARED | (0 != fixedAddress ? LibC.MAP_FIXED : 0), fd, offset);
        }

        @Override
        public long reserve(final long fixedAddress, final long length)
        {
            return LibC.mmapRaw(fixedAddress, length, LibC.PROT_NONE,
                LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE | (0 != fixedAddress ? LibC.MAP_FIXED : 0),
                -1, 0);
        }

        @Override
        public int munmap(final long address, final long length)
        {
            return LibC.munmapRaw(address, length);
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            return LibC.ioctlRaw(fd, request, arg);
        }
    };

    /**
     * {@code mmap(fixedAddress, length, PROT_READ|PROT_WRITE, MAP_SHARED [| MAP_FIXED], fd, offset)}.
     *
     * @param fixedAddress where to map (replacing what is there), or 0 for anywhere.
     * @return the address, or {@code -errno}.
     */
    long mmapShared(long fixedAddress, long length, int fd, long offset);

    /**
     * Inaccessible anonymous memory ({@code PROT_NONE}): reserves address space, or at {@code fixedAddress} replaces
     * a mapping (which unmaps it) while keeping the range reserved.
     *
     * @return the address, or {@code -errno}.
     */
    long reserve(long fixedAddress, long length);

    /**
     * @return 0, or {@code -errno}.
     */
    int munmap(long address, long length);

    /**
     * @return the non-negative result, or {@code -errno}.
     */
    int ioctl(int fd, long request, MemorySegment arg);
}
