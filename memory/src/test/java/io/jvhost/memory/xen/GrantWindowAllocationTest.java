package io.jvhost.memory.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.memory.XenMmap;
import io.jvhost.os.LibC;
import io.jvhost.os.MemFd;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Per-access grant mapping allocates nothing once warm: copies to and from a GRANT|NO_ADVANCE_MAP region through
 * {@link GuestMemory} map and unmap through the thread's {@link GrantWindow} with buffers made once. The grant device
 * here is a minimal allocation-free stand-in (reference n is page n of a memfd; the index is the reference's byte
 * offset), since {@link FakeXen} records every call and would count its own allocations.
 */
class GrantWindowAllocationTest
{
    private static final long PAGE = 4096;
    private static final int ROUNDS = 2000;

    @Test
    void onAccessCopiesAllocateNothingInSteadyState() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);
        try (MemFd ram = MemFd.create("identity-grants", 64 * PAGE); Arena arena = Arena.ofConfined())
        {
            final IdentityGrants sys = new IdentityGrants(ram.fd());
            final int gntdev = LibC.memfdCreate("xen-gntdev", LibC.MFD_CLOEXEC);
            final MemoryRegion region;
            try
            {
                region = MemoryRegion.mapXen(sys, gntdev, 1L << 63, 64 * PAGE, 0, 0,
                    XenMmap.GRANT | XenMmap.NO_ADVANCE_MAP, 2);
            }
            finally
            {
                LibC.closeQuietly(gntdev);
            }
            final GuestMemory memory = GuestMemory.of(List.of(region), 8);
            try
            {
                final MemorySegment buffer = arena.allocate(3 * PAGE);
                final long gpa = 1L << 63 | 5 * PAGE + 100;
                long sink = 0;
                for (int warm = 0; warm < 5; warm++)
                {
                    sink += rounds(memory, buffer, gpa); // until C2 has compiled (and inlined) the copy path
                }
                final long before = threads.getCurrentThreadAllocatedBytes();
                sink += rounds(memory, buffer, gpa);
                final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                assertThat(sink).isEqualTo(6L * ROUNDS * 0x7A);
                assertThat(sys.maps).as("grant maps made").isEqualTo(6L * 2 * ROUNDS);
                assertThat(sys.outstanding).as("grant maps left").isZero();
                // As AllocationFreeTest: a few KB of one-off JVM noise at most; one object per copy would be 64 KB+.
                assertThat(allocated).as("bytes allocated by %d write+read copies", ROUNDS).isLessThan(4096);
            }
            finally
            {
                memory.release();
            }
        }
    }

    private static long rounds(final GuestMemory memory, final MemorySegment buffer, final long gpa)
        throws Exception
    {
        long sink = 0;
        for (int i = 0; i < ROUNDS; i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, 2 * PAGE, (byte)0x7A);
            memory.write(gpa, buffer, 0, buffer.byteSize());
            buffer.set(ValueLayout.JAVA_BYTE, 2 * PAGE, (byte)0);
            memory.read(gpa, buffer, 0, buffer.byteSize());
            sink += buffer.get(ValueLayout.JAVA_BYTE, 2 * PAGE);
        }
        return sink;
    }

    /** Reference n is page n of {@code ramFd}; allocation-free. */
    private static final class IdentityGrants implements XenSyscalls
    {
        private final int ramFd;
        long maps;
        long outstanding;

        IdentityGrants(final int ramFd)
        {
            this.ramFd = ramFd;
        }

        @Override
        public long mmapShared(final long fixedAddress, final long length, final int fd, final long offset)
        {
            return LINUX.mmapShared(fixedAddress, length, ramFd, offset);
        }

        @Override
        public long reserve(final long fixedAddress, final long length)
        {
            return LINUX.reserve(fixedAddress, length);
        }

        @Override
        public int munmap(final long address, final long length)
        {
            return LINUX.munmap(address, length);
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            if (request == GntdevMapGrantRef.IOCTL_GNTDEV_MAP_GRANT_REF)
            {
                final long firstRef = Integer.toUnsignedLong(arg.get(ValueLayout.JAVA_INT_UNALIGNED, 20));
                arg.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, firstRef * PAGE);
                maps++;
                outstanding++;
                return 0;
            }
            if (request == GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF)
            {
                outstanding--;
                return 0;
            }
            return -25;
        }
    }
}
