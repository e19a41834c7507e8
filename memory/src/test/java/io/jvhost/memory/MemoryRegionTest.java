package io.jvhost.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class MemoryRegionTest
{
    private static final long PAGE = 4096;

    @Test
    void regionLargerThanItsFileIsRefusedNamingTheNumbers() throws NativeException
    {
        try (MemFd memFd = MemFd.create("small", 2 * PAGE))
        {
            final GuestMemoryException e = catchThrowableOfType(GuestMemoryException.class,
                () -> MemoryRegion.map(memFd.fd(), 0, 2 * PAGE, 0x10000, PAGE));

            assertThat(e).hasMessage("memory region larger than its file: mmap_offset=4096 + size=8192"
                + " > file size 8192 (fd=" + memFd.fd() + ")");
        }
    }

    @Test
    void regionOneByteLargerThanItsFileIsRefused() throws NativeException
    {
        try (MemFd memFd = MemFd.create("small", 2 * PAGE))
        {
            assertThatThrownBy(() -> MemoryRegion.map(memFd.fd(), 0, 2 * PAGE + 1, 0, 0))
                .isInstanceOf(GuestMemoryException.class)
                .hasMessageContaining("size=8193")
                .hasMessageContaining("file size 8192");
        }
    }

    @Test
    void regionThatExactlyFillsItsFileIsMapped() throws Exception
    {
        try (MemFd memFd = MemFd.create("exact", 3 * PAGE))
        {
            final MemoryRegion r = MemoryRegion.map(memFd.fd(), 0x100000, 2 * PAGE, 0x7f0000000000L, PAGE);

            assertThat(r.guestPhysAddr()).isEqualTo(0x100000);
            assertThat(r.size()).isEqualTo(2 * PAGE);
            assertThat(r.guestPhysEnd()).isEqualTo(0x100000 + 2 * PAGE);
            assertThat(r.userAddr()).isEqualTo(0x7f0000000000L);
            assertThat(r.mmapOffset()).isEqualTo(PAGE);
            assertThat(r.bytes().byteSize()).isEqualTo(2 * PAGE);
            assertThat(r).hasToString("MemoryRegion[gpa=0x100000, size=0x2000, uaddr=0x7f0000000000, mmap_offset=0x1000]");
            r.release();
        }
    }

    @Test
    void bytesAtFileOffsetMmapOffsetAppearAtRegionOffsetZero() throws Exception
    {
        try (MemFd memFd = MemFd.create("offset", 4 * PAGE); MappedMemory file = memFd.map())
        {
            file.segment().set(ValueLayout.JAVA_LONG, 2 * PAGE, 0x0123456789ABCDEFL);
            file.segment().set(ValueLayout.JAVA_LONG, 2 * PAGE - 8, -1L);
            final MemoryRegion r = MemoryRegion.map(memFd.fd(), 0, 2 * PAGE, 0, 2 * PAGE);

            assertThat(r.bytes().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x0123456789ABCDEFL);

            // Writes go to the file at the same offset.
            r.bytes().set(ValueLayout.JAVA_INT, PAGE, 77);
            assertThat(file.segment().get(ValueLayout.JAVA_INT, 3 * PAGE)).isEqualTo(77);
            r.release();
        }
    }

    @Test
    void unalignedMmapOffsetIsHonoured() throws Exception
    {
        try (MemFd memFd = MemFd.create("unaligned", 2 * PAGE); MappedMemory file = memFd.map())
        {
            file.segment().set(ValueLayout.JAVA_BYTE, 1234, (byte)0x5A);
            final MemoryRegion r = MemoryRegion.map(memFd.fd(), 0, 100, 0, 1234);

            assertThat(r.bytes().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0x5A);
            assertThat(r.bytes().byteSize()).isEqualTo(100);
            r.release();
        }
    }

    @Test
    void regionStaysMappedAfterTheDescriptorIsClosed() throws Exception
    {
        final MemoryRegion r;
        try (MemFd memFd = MemFd.create("closed-fd", PAGE))
        {
            r = MemoryRegion.map(memFd.fd(), 0, PAGE, 0, 0);
        }
        r.bytes().set(ValueLayout.JAVA_INT, 0, 9);
        assertThat(r.bytes().get(ValueLayout.JAVA_INT, 0)).isEqualTo(9);
        r.release();
    }

    @Test
    void negativeZeroAndOverflowingValuesAreRefused() throws NativeException
    {
        try (MemFd memFd = MemFd.create("invalid", PAGE))
        {
            final int fd = memFd.fd();
            assertRefused(() -> MemoryRegion.map(fd, 0, 0, 0, 0), "size=0x0");
            assertRefused(() -> MemoryRegion.map(fd, 0, -PAGE, 0, 0), "size=0xfffffffffffff000");
            assertRefused(() -> MemoryRegion.map(fd, -1, PAGE, 0, 0), "guest_phys_addr=0xffffffffffffffff");
            assertRefused(() -> MemoryRegion.map(fd, 0, PAGE, Long.MIN_VALUE, 0), "userspace_addr=0x8000000000000000");
            assertRefused(() -> MemoryRegion.map(fd, 0, PAGE, 0, -PAGE), "mmap_offset=0xfffffffffffff000");
            assertRefused(() -> MemoryRegion.map(fd, Long.MAX_VALUE - 10, PAGE, 0, 0), "guest_phys_addr=0x7ffffffffffffff5");
            assertRefused(() -> MemoryRegion.map(fd, 0, PAGE, Long.MAX_VALUE - 10, 0), "userspace_addr=0x7ffffffffffffff5");
            // Would pass "mmap_offset + size > file size" if the sum wrapped negative.
            assertRefused(() -> MemoryRegion.map(fd, 0, PAGE, 0, Long.MAX_VALUE - 10), "mmap_offset=0x7ffffffffffffff5");
            assertRefused(() -> MemoryRegion.map(fd, 0, Long.MAX_VALUE, 0, 1), "size=0x7fffffffffffffff");
        }
    }

    private static void assertRefused(final org.assertj.core.api.ThrowableAssert.ThrowingCallable call,
        final String named)
    {
        assertThatThrownBy(call)
            .isInstanceOf(GuestMemoryException.class)
            .hasMessageStartingWith("invalid memory region: ")
            .hasMessageContaining(named);
    }

    @Test
    void largestRepresentableRegionEndIsAccepted() throws GuestMemoryException
    {
        final MemorySegment bytes = Arena.global().allocate(16);
        final MemoryRegion r = MemoryRegion.ofSegment(Long.MAX_VALUE - 16, bytes, Long.MAX_VALUE - 16);

        assertThat(r.guestPhysEnd()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void invalidDescriptorIsReportedByFstat()
    {
        final NativeException e =
            catchThrowableOfType(NativeException.class, () -> MemoryRegion.map(-1, 0, PAGE, 0, 0));

        assertThat(e.call()).isEqualTo("fstat");
        assertThat(e.errnoName()).isEqualTo("EBADF");
    }

    @Test
    void releaseOfTheLastReferenceUnmapsAndAccessThenThrowsIllegalStateException() throws Exception
    {
        try (MemFd memFd = MemFd.create("refs", PAGE))
        {
            final MemoryRegion r = MemoryRegion.map(memFd.fd(), 0, PAGE, 0, 0);
            r.retain();

            r.release();
            r.bytes().set(ValueLayout.JAVA_INT, 0, 1);

            r.release();
            assertThat(r.bytes().scope().isAlive()).isFalse();
            assertThatIllegalStateException().isThrownBy(() -> r.bytes().get(ValueLayout.JAVA_INT, 0));
            assertThatIllegalStateException().isThrownBy(r::release).withMessageContaining("released twice");
            assertThatIllegalStateException().isThrownBy(r::retain).withMessageContaining("already released");
        }
    }

    @Test
    void regionOverOwnedMemoryIsNeverUnmapped() throws GuestMemoryException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment bytes = arena.allocate(64);
            final MemoryRegion r = MemoryRegion.ofSegment(0x1000, bytes, 0x2000);

            assertThat(r.size()).isEqualTo(64);
            assertThat(r.mmapOffset()).isZero();
            r.release();

            bytes.set(ValueLayout.JAVA_INT, 0, 3);
            assertThat(r.bytes().get(ValueLayout.JAVA_INT, 0)).isEqualTo(3);
        }
    }

    @Test
    void emptySegmentIsRefused()
    {
        assertThatThrownBy(() -> MemoryRegion.ofSegment(0, MemorySegment.NULL, 0))
            .isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("size=0x0");
    }

    @Test
    void matchesComparesAddressSizeAndUserAddress() throws GuestMemoryException
    {
        final MemoryRegion r = MemoryRegion.ofSegment(0x1000, Arena.global().allocate(0x100), 0x9000);

        assertThat(r.matches(0x1000, 0x100, 0x9000)).isTrue();
        assertThat(r.matches(0x1000, 0x100, 0x9001)).isFalse();
        assertThat(r.matches(0x1000, 0x101, 0x9000)).isFalse();
        assertThat(r.matches(0x1001, 0x100, 0x9000)).isFalse();
    }

    @Test
    void aFileThatMayShrinkIsLoggedAtDebugAndASealedOneIsNot() throws Exception
    {
        final Logger logger = Logger.getLogger(MemoryRegion.class.getName());
        final List<String> lines = new ArrayList<>();
        final Handler handler = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                synchronized (lines)
                {
                    lines.add(record.getLevel() + " " + record.getMessage());
                }
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        final Level before = logger.getLevel();
        logger.setLevel(Level.FINE);
        logger.addHandler(handler);
        try (MemFd open = MemFd.create("unsealed", 2 * PAGE);
             MemFd sealed = MemFd.create("sealed", 2 * PAGE))
        {
            sealed.seal(MemFd.F_SEAL_SHRINK);
            MemoryRegion.map(sealed.fd(), 0x4000, 2 * PAGE, 0x10000, 0).release();
            synchronized (lines)
            {
                assertThat(lines).isEmpty();
            }
            MemoryRegion.map(open.fd(), 0x8000, 2 * PAGE, 0x20000, 0).release();
            synchronized (lines)
            {
                assertThat(lines).containsExactly("FINE memory region at gpa 0x8000 (fd=" + open.fd()
                    + ") is not sealed against shrinking: a truncation would fault our accesses");
            }
        }
        finally
        {
            logger.removeHandler(handler);
            logger.setLevel(before);
        }
    }

    @Test
    void anAccessPastATruncatedFileIsAFaultTheThreadCanCatch() throws Exception
    {
        try (MemFd memFd = MemFd.create("shrinks", 2 * PAGE))
        {
            final MemoryRegion r = MemoryRegion.map(memFd.fd(), 0, 2 * PAGE, 0x10000, 0);
            r.bytes().set(ValueLayout.JAVA_INT, PAGE, 7);
            LibC.ftruncate(memFd.fd(), PAGE);

            assertThat(r.bytes().get(ValueLayout.JAVA_INT, 0)).isZero();
            final Throwable fault = catchThrowable(
                () -> r.bytes().get(ValueLayout.JAVA_INT, PAGE));
            assertThat(fault).isInstanceOf(InternalError.class);
            assertThat(MappedMemory.isFault(fault)).as("%s", fault).isTrue();
            assertThat(MappedMemory.isFault(new InternalError("something else"))).isFalse();
            assertThat(MappedMemory.isFault(new IllegalStateException("unsafe memory access"))).isFalse();
            r.release();
        }
    }
}
