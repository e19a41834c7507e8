package io.jvhost.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.os.MappedMemory;
import io.jvhost.os.MemFd;
import io.jvhost.os.NativeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GuestMemoryTest
{
    private static final int MAX = 8;

    private final Arena arena = Arena.ofConfined();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception
    {
        for (final AutoCloseable c : closeables)
        {
            c.close();
        }
        arena.close();
    }

    /** A region over test-owned memory. */
    private MemoryRegion owned(final long gpa, final long size, final long uaddr) throws GuestMemoryException
    {
        return MemoryRegion.ofSegment(gpa, arena.allocate(size, 8), uaddr);
    }

    /**
     * The three regions most tests use: a gap at [0x2000, 0x3000), and two regions adjacent at 0x4000. Their
     * front-end addresses are in a different order from their guest-physical ones.
     */
    private GuestMemory threeRegions() throws GuestMemoryException
    {
        return GuestMemory.of(List.of(
            owned(0x4000, 0x2000, 0x6000_0000L),
            owned(0x1000, 0x1000, 0x7000_0000L),
            owned(0x3000, 0x1000, 0x5000_0000L)), MAX);
    }

    private MemFd memFd(final long size) throws NativeException
    {
        final MemFd memFd = MemFd.create("guest", size);
        closeables.add(memFd);
        return memFd;
    }

    private MemoryRegion mapped(final MemFd memFd, final long gpa, final long size, final long uaddr,
        final long mmapOffset) throws Exception
    {
        return MemoryRegion.map(memFd.fd(), gpa, size, uaddr, mmapOffset);
    }

    private static boolean unmapped(final MemoryRegion r)
    {
        return !r.bytes().scope().isAlive();
    }

    // ---- building snapshots ------------------------------------------------------------------------------------

    @Test
    void regionsAreSortedByGuestPhysicalAddress() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.regionCount()).isEqualTo(3);
        assertThat(memory.region(0).guestPhysAddr()).isEqualTo(0x1000);
        assertThat(memory.region(1).guestPhysAddr()).isEqualTo(0x3000);
        assertThat(memory.region(2).guestPhysAddr()).isEqualTo(0x4000);
        assertThat(memory.toString()).startsWith("GuestMemory[MemoryRegion[gpa=0x1000");
    }

    @Test
    void regionsOverlappingInGuestPhysicalSpaceAreRefused() throws GuestMemoryException
    {
        final MemoryRegion base = owned(0x1000, 0x1000, 0x10_0000);

        assertOverlapRefused(base, owned(0x1fff, 0x10, 0x20_0000));
        assertOverlapRefused(base, owned(0x0800, 0x1000, 0x20_0000));
        assertOverlapRefused(base, owned(0x1400, 0x100, 0x20_0000));
        assertOverlapRefused(base, owned(0x0000, 0x10000, 0x20_0000));
        assertOverlapRefused(base, owned(0x1000, 0x1000, 0x20_0000));
    }

    @Test
    void regionsOverlappingInFrontEndVirtualSpaceAreRefused() throws GuestMemoryException
    {
        final MemoryRegion base = owned(0x1000, 0x1000, 0x10_0000);

        assertOverlapRefused(base, owned(0x8000, 0x1000, 0x10_0fff));
        assertOverlapRefused(base, owned(0x8000, 0x1000, 0x0f_f001));
        assertOverlapRefused(base, owned(0x8000, 0x10, 0x10_0800));
    }

    private static void assertOverlapRefused(final MemoryRegion a, final MemoryRegion b)
    {
        assertThatThrownBy(() -> GuestMemory.of(List.of(a, b), MAX))
            .isInstanceOf(GuestMemoryException.class)
            .hasMessageStartingWith("memory regions overlap: ")
            .hasMessageContaining(a.toString())
            .hasMessageContaining(b.toString());
    }

    @Test
    void regionsTouchingInBothSpacesAreAccepted() throws GuestMemoryException
    {
        final GuestMemory memory = GuestMemory.of(List.of(
            owned(0x1000, 0x1000, 0x10_0000),
            owned(0x2000, 0x1000, 0x10_1000),
            owned(0x0000, 0x1000, 0x0f_f000)), MAX);

        assertThat(memory.regionCount()).isEqualTo(3);
        assertThat(memory.isValidRange(0, 0x3000)).isTrue();
    }

    @Test
    void moreThanMaxRegionsAreRefused() throws GuestMemoryException
    {
        final List<MemoryRegion> three = List.of(owned(0, 0x10, 0), owned(0x10, 0x10, 0x10), owned(0x20, 0x10, 0x20));

        assertThatThrownBy(() -> GuestMemory.of(three, 2))
            .isInstanceOf(GuestMemoryException.class)
            .hasMessage("too many memory regions: 3 > 2");
        assertThat(GuestMemory.of(three, 3).regionCount()).isEqualTo(3);
    }

    // ---- guest-physical translation ----------------------------------------------------------------------------

    @Test
    void regionIndexOfFindsRegionsAndRejectsGapsAndEdges() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.regionIndexOf(0)).isEqualTo(-1);
        assertThat(memory.regionIndexOf(0xfff)).isEqualTo(-1);
        assertThat(memory.regionIndexOf(0x1000)).isEqualTo(0);
        assertThat(memory.regionIndexOf(0x1fff)).isEqualTo(0);
        assertThat(memory.regionIndexOf(0x2000)).as("one past the first region, in the gap").isEqualTo(-1);
        assertThat(memory.regionIndexOf(0x2fff)).isEqualTo(-1);
        assertThat(memory.regionIndexOf(0x3000)).isEqualTo(1);
        assertThat(memory.regionIndexOf(0x3fff)).isEqualTo(1);
        assertThat(memory.regionIndexOf(0x4000)).as("first byte of the adjacent region").isEqualTo(2);
        assertThat(memory.regionIndexOf(0x5fff)).as("last byte").isEqualTo(2);
        assertThat(memory.regionIndexOf(0x6000)).as("one past the last byte").isEqualTo(-1);
        assertThat(memory.regionIndexOf(Long.MAX_VALUE)).isEqualTo(-1);
        assertThat(memory.regionIndexOf(-1)).isEqualTo(-1);
        assertThat(memory.regionIndexOf(Long.MIN_VALUE)).isEqualTo(-1);
    }

    @Test
    void isValidRangeChecksEveryByteAcrossAdjacentRegionsOnly() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.isValidRange(0x1000, 0x1000)).isTrue();
        assertThat(memory.isValidRange(0x1fff, 1)).as("last byte of a region").isTrue();
        assertThat(memory.isValidRange(0x1fff, 2)).as("into the gap").isFalse();
        assertThat(memory.isValidRange(0x0fff, 2)).as("from before the first region").isFalse();
        assertThat(memory.isValidRange(0x1000, 0x3000)).as("across the gap").isFalse();
        assertThat(memory.isValidRange(0x3000, 0x3000)).as("across adjacent regions").isTrue();
        assertThat(memory.isValidRange(0x3ff0, 0x20)).isTrue();
        assertThat(memory.isValidRange(0x3000, 0x3001)).as("one past the last byte").isFalse();
        assertThat(memory.isValidRange(0x5fff, 1)).as("last byte").isTrue();
        assertThat(memory.isValidRange(0x6000, 1)).isFalse();
    }

    @Test
    void isValidRangeOfZeroLengthNeedsAMappedAddress() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.isValidRange(0x1000, 0)).isTrue();
        assertThat(memory.isValidRange(0x1fff, 0)).isTrue();
        assertThat(memory.isValidRange(0x4000, 0)).isTrue();
        assertThat(memory.isValidRange(0x2000, 0)).as("in the gap").isFalse();
        assertThat(memory.isValidRange(0x6000, 0)).as("one past the end").isFalse();
        assertThat(memory.isValidRange(0, 0)).isFalse();
    }

    @Test
    void isValidRangeRefusesNegativeAndWrappingRanges() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.isValidRange(0x1000, -1)).isFalse();
        assertThat(memory.isValidRange(-1, 1)).isFalse();
        assertThat(memory.isValidRange(0x1000, Long.MAX_VALUE)).isFalse();
        assertThat(memory.isValidRange(Long.MAX_VALUE, 2)).isFalse();
    }

    @Test
    void emptyMemoryTranslatesNothing() throws GuestMemoryException
    {
        final GuestMemory empty = GuestMemory.EMPTY;

        assertThat(empty.regionCount()).isZero();
        assertThat(empty.regionIndexOf(0)).isEqualTo(-1);
        assertThat(empty.isValidRange(0, 0)).isFalse();
        assertThat(empty.userToGuestPhys(0)).isEqualTo(-1);
        assertThatThrownBy(() -> empty.slice(0, 1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> empty.sliceUser(0, 1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> empty.read(0, arena.allocate(1), 0, 1)).isInstanceOf(GuestMemoryException.class);
        empty.read(0, arena.allocate(1), 0, 0);
        assertThatNoException().as("releasing EMPTY is a no-op").isThrownBy(() ->
        {
            empty.release();
            empty.release();
        });
        assertThat(GuestMemory.of(List.of(), MAX).regionCount()).isZero();
    }

    @Test
    void writeSpanningTwoAdjacentRegionsLandsInTheRightFileBytesOfEach() throws Exception
    {
        // Region A: gpa [0x10000, 0x11000) from file offset 0x1000 of memfd a; region B: gpa [0x11000, 0x13000)
        // from file offset 0x2000 of memfd b.
        final MemFd a = memFd(0x2000);
        final MemFd b = memFd(0x4000);
        final GuestMemory memory = GuestMemory.of(List.of(
            mapped(a, 0x10000, 0x1000, 0x7f00_0000_0000L, 0x1000),
            mapped(b, 0x11000, 0x2000, 0x7e00_0000_0000L, 0x2000)), MAX);
        try (MappedMemory fileA = a.map(); MappedMemory fileB = b.map())
        {
            final MemorySegment src = arena.allocate(32);
            for (int i = 0; i < 32; i++)
            {
                src.set(ValueLayout.JAVA_BYTE, i, (byte)(i + 1));
            }

            // 16 bytes from src offset 8: 6 at the end of A, 10 at the start of B.
            memory.write(0x10ffa, src, 8, 16);

            for (int i = 0; i < 6; i++)
            {
                assertThat(fileA.segment().get(ValueLayout.JAVA_BYTE, 0x1ffa + i)).isEqualTo((byte)(9 + i));
            }
            for (int i = 0; i < 10; i++)
            {
                assertThat(fileB.segment().get(ValueLayout.JAVA_BYTE, 0x2000 + i)).isEqualTo((byte)(15 + i));
            }
            assertThat(fileA.segment().get(ValueLayout.JAVA_BYTE, 0x1ff9)).as("before the write").isZero();
            assertThat(fileB.segment().get(ValueLayout.JAVA_BYTE, 0x200a)).as("after the write").isZero();
            assertThat(fileB.segment().get(ValueLayout.JAVA_BYTE, 0x1fff)).as("below B's mmap_offset").isZero();

            final MemorySegment dst = arena.allocate(20);
            memory.read(0x10ffa, dst, 2, 16);
            assertThat(dst.asSlice(2, 16).mismatch(src.asSlice(8, 16))).isEqualTo(-1);
            assertThat(dst.get(ValueLayout.JAVA_BYTE, 0)).isZero();
            assertThat(dst.get(ValueLayout.JAVA_BYTE, 18)).isZero();
        }
        memory.release();
    }

    @Test
    void accessReachingAGapThrowsNamingTheFirstUnmappedByte() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();
        final MemorySegment buf = arena.allocate(16);

        assertThatThrownBy(() -> memory.read(0x1ff8, buf, 0, 16))
            .isInstanceOf(GuestMemoryException.class)
            .hasMessage("guest range not in memory: gpa=0x1ff8, length=16 (first unmapped byte at 0x2000)");
        assertThatThrownBy(() -> memory.write(0x5ff8, buf, 0, 9))
            .isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("first unmapped byte at 0x6000");
        assertThatThrownBy(() -> memory.write(0x2000, buf, 0, 1))
            .hasMessageContaining("first unmapped byte at 0x2000");
    }

    @Test
    void readOfTheLastBytesAndZeroLengthAccessesSucceed() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();
        memory.region(2).bytes().set(ValueLayout.JAVA_BYTE, 0x1fff, (byte)0x7e);
        final MemorySegment one = arena.allocate(1);

        memory.read(0x5fff, one, 0, 1);
        assertThat(one.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0x7e);
        memory.write(0x5fff, one, 0, 0);
        memory.read(0x5fff, one, 0, 0);
    }

    @Test
    void sliceReturnsTheBytesOfOneRegion() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();
        memory.region(1).bytes().set(ValueLayout.JAVA_LONG, 0x10, 0xABCDL);

        final MemorySegment s = memory.slice(0x3010, 8);
        assertThat(s.byteSize()).isEqualTo(8);
        assertThat(s.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0xABCDL);

        assertThat(memory.slice(0x3000, 0x1000).byteSize()).as("whole region").isEqualTo(0x1000);
        assertThat(memory.slice(0x3fff, 1).byteSize()).as("last byte").isEqualTo(1);
        assertThat(memory.slice(0x3000, 0).byteSize()).as("zero length").isZero();
    }

    @Test
    void sliceRefusesRangesCrossingARegionEnd() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertSliceRefused(memory, 0x3fff, 2); // into the adjacent region: not one segment
        assertSliceRefused(memory, 0x3000, 0x1001);
        assertSliceRefused(memory, 0x1fff, 2); // into the gap
        assertSliceRefused(memory, 0x2000, 1); // in the gap
        assertSliceRefused(memory, 0x6000, 0); // one past the end
        assertSliceRefused(memory, 0x3000, -1);
        assertSliceRefused(memory, 0x3000, Long.MAX_VALUE);
        assertSliceRefused(memory, -1, 1);
    }

    private static void assertSliceRefused(final GuestMemory memory, final long gpa, final long length)
    {
        assertThatThrownBy(() -> memory.slice(gpa, length))
            .as("slice(0x%x, %d)", gpa, length)
            .isInstanceOf(GuestMemoryException.class)
            .hasMessageStartingWith("guest range outside a single memory region: gpa=0x" + Long.toHexString(gpa));
    }

    // ---- front-end virtual translation -------------------------------------------------------------------------

    @Test
    void sliceUserTranslatesFrontEndAddressesToTheSameBytesAsGuestPhysical() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        final MemorySegment byUser = memory.sliceUser(0x5000_0100L, 16);
        final MemorySegment byGpa = memory.slice(0x3100, 16);
        assertThat(byUser.address()).isEqualTo(byGpa.address());
        assertThat(byUser.byteSize()).isEqualTo(16);

        assertThat(memory.sliceUser(0x6000_1ff0L, 16).address()).isEqualTo(memory.slice(0x5ff0, 16).address());
        assertThat(memory.sliceUser(0x7000_0000L, 0x1000).byteSize()).isEqualTo(0x1000);
    }

    @Test
    void sliceUserRefusesRangesOutsideOneRegion() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        for (final long[] bad : new long[][] {
            {0x5000_0ff8L, 9}, // crosses the region's end
            {0x5000_1000L, 1}, // one past the end
            {0x4fff_ffffL, 1}, // one before the start
            {0x5000_0000L, -1},
            {0x5000_0000L, Long.MAX_VALUE},
            {-1, 1}})
        {
            assertThatThrownBy(() -> memory.sliceUser(bad[0], bad[1]))
                .as("sliceUser(0x%x, %d)", bad[0], bad[1])
                .isInstanceOf(GuestMemoryException.class)
                .hasMessage("front-end address range not in guest memory: uaddr=0x" + Long.toHexString(bad[0])
                    + ", length=" + bad[1]);
        }
    }

    @Test
    void userToGuestPhysTranslatesMappedAddressesOnly() throws GuestMemoryException
    {
        final GuestMemory memory = threeRegions();

        assertThat(memory.userToGuestPhys(0x7000_0000L)).isEqualTo(0x1000);
        assertThat(memory.userToGuestPhys(0x7000_0fffL)).isEqualTo(0x1fff);
        assertThat(memory.userToGuestPhys(0x5000_0123L)).isEqualTo(0x3123);
        assertThat(memory.userToGuestPhys(0x6000_1fffL)).isEqualTo(0x5fff);
        assertThat(memory.userToGuestPhys(0x7000_1000L)).as("one past the end").isEqualTo(-1);
        assertThat(memory.userToGuestPhys(0x6fff_ffffL)).isEqualTo(-1);
        assertThat(memory.userToGuestPhys(0)).isEqualTo(-1);
        assertThat(memory.userToGuestPhys(-1)).isEqualTo(-1);
        assertThat(memory.userToGuestPhys(Long.MIN_VALUE)).isEqualTo(-1);
    }

    // ---- reference counting ------------------------------------------------------------------------------------

    @Test
    void releaseOfTheLastReferenceUnmapsEveryRegion() throws Exception
    {
        final MemFd fd = memFd(0x3000);
        final GuestMemory memory = GuestMemory.of(List.of(
            mapped(fd, 0, 0x1000, 0x10_0000, 0), mapped(fd, 0x1000, 0x1000, 0x20_0000, 0x1000)), MAX);

        assertThat(memory.tryRetain()).isTrue();
        memory.release();
        assertThat(unmapped(memory.region(0))).isFalse();

        memory.release();

        assertThat(unmapped(memory.region(0))).isTrue();
        assertThat(unmapped(memory.region(1))).isTrue();
        assertThat(memory.tryRetain()).as("retain after release").isFalse();
        assertThatIllegalStateException().isThrownBy(() -> memory.read(0, arena.allocate(1), 0, 1));
        assertThatIllegalStateException().isThrownBy(memory::release).withMessageContaining("released twice");
    }

    @Test
    void withoutKeepsOtherRegionsMappedAndUnmapsTheRemovedOneAfterTheLastHolderReleases() throws Exception
    {
        final MemFd fd = memFd(0x2000);
        final MemoryRegion a = mapped(fd, 0, 0x1000, 0x10_0000, 0);
        final MemoryRegion b = mapped(fd, 0x1000, 0x1000, 0x20_0000, 0x1000);
        final GuestMemory first = GuestMemory.of(List.of(a, b), MAX);
        // A worker is in the middle of a batch on the first snapshot.
        assertThat(first.tryRetain()).isTrue();

        final GuestMemory second = first.without(0x1000, 0x1000, 0x20_0000);
        assertThat(second.regionCount()).isEqualTo(1);
        assertThat(second.region(0)).isSameAs(a);
        assertThat(second.isValidRange(0x1000, 1)).isFalse();

        first.release(); // the holder lets go of the old map
        assertThat(unmapped(b)).as("still held by the worker").isFalse();
        b.bytes().set(ValueLayout.JAVA_INT, 0, 1);

        first.release(); // the worker finishes its batch
        assertThat(unmapped(b)).isTrue();
        assertThatIllegalStateException().isThrownBy(() -> b.bytes().get(ValueLayout.JAVA_INT, 0));
        assertThat(unmapped(a)).as("kept by the second snapshot").isFalse();
        a.bytes().set(ValueLayout.JAVA_INT, 0, 2);

        second.release();
        assertThat(unmapped(a)).isTrue();
    }

    @Test
    void withKeepsExistingRegionsMappedAndAddsTheNewOne() throws Exception
    {
        final MemFd fd = memFd(0x2000);
        final MemoryRegion a = mapped(fd, 0, 0x1000, 0x10_0000, 0);
        final MemoryRegion c = mapped(fd, 0x8000, 0x1000, 0x30_0000, 0x1000);
        final GuestMemory first = GuestMemory.of(List.of(a), MAX);

        final GuestMemory second = first.with(c, MAX);
        assertThat(first.regionCount()).isEqualTo(1);
        assertThat(second.regionCount()).isEqualTo(2);
        assertThat(second.regionIndexOf(0x8000)).isEqualTo(1);

        first.release();
        assertThat(unmapped(a)).isFalse();
        second.write(0x8ffc, arena.allocate(4), 0, 4);

        second.release();
        assertThat(unmapped(a)).isTrue();
        assertThat(unmapped(c)).isTrue();
    }

    @Test
    void failedWithOrWithoutLeavesReferenceCountsUnchanged() throws Exception
    {
        final MemFd fd = memFd(0x2000);
        final MemoryRegion a = mapped(fd, 0, 0x1000, 0x10_0000, 0);
        final MemoryRegion overlapping = mapped(fd, 0x800, 0x1000, 0x30_0000, 0);
        final MemoryRegion extra = mapped(fd, 0x4000, 0x1000, 0x40_0000, 0);
        final GuestMemory memory = GuestMemory.of(List.of(a), MAX);

        assertThatThrownBy(() -> memory.with(overlapping, MAX)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("overlap");
        assertThatThrownBy(() -> memory.with(extra, 1)).isInstanceOf(GuestMemoryException.class)
            .hasMessage("too many memory regions: 2 > 1");
        assertThatThrownBy(() -> memory.without(0, 0x1000, 0x10_0001)).isInstanceOf(GuestMemoryException.class)
            .hasMessage("no memory region to remove at guest_phys_addr=0x0, size=0x1000, userspace_addr=0x100001");

        // One release must be enough to unmap: no stray reference was taken by the failed calls.
        memory.release();
        assertThat(unmapped(a)).isTrue();
        // The caller still owns the regions that were refused.
        assertThat(unmapped(overlapping)).isFalse();
        overlapping.release();
        extra.release();
        assertThat(unmapped(overlapping)).isTrue();
        assertThat(unmapped(extra)).isTrue();
    }

    @Test
    void chainOfAddAndRemoveKeepsCountsBalanced() throws Exception
    {
        final MemFd fd = memFd(0x1000);
        final MemoryRegion fixed = mapped(fd, 0, 0x1000, 0x10_0000, 0);
        GuestMemory current = GuestMemory.of(List.of(fixed), MAX);
        final List<MemoryRegion> retired = new ArrayList<>();
        MemoryRegion last = null;
        for (int i = 0; i < 50; i++)
        {
            GuestMemory next = current;
            if (null != last)
            {
                next = current.without(last.guestPhysAddr(), last.size(), last.userAddr());
                current.release();
                retired.add(last);
            }
            last = mapped(fd, 0x10000 + i * 0x1000L, 0x1000, 0x20_0000 + i * 0x1000L, 0);
            final GuestMemory withNew = next.with(last, MAX);
            next.release();
            current = withNew;
        }

        assertThat(current.regionCount()).isEqualTo(2);
        assertThat(retired).hasSize(49).allMatch(GuestMemoryTest::unmapped);
        assertThat(unmapped(fixed)).isFalse();
        assertThat(unmapped(last)).isFalse();
        current.release();
        assertThat(unmapped(fixed)).isTrue();
        assertThat(unmapped(last)).isTrue();
    }
}
