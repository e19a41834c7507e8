package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import io.jvhost.os.LibC;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GuestRamTest
{
    private static final long MIB = 1 << 20;

    @Test
    void regionsAreSlicesOfOneMemfdAdjacentInGuestPhysicalSpaceByDefault() throws Exception
    {
        try (GuestRam ram = GuestRam.create(4 * MIB, 4))
        {
            assertThat(ram.regionCount()).isEqualTo(4);
            assertThat(LibC.fileSize(ram.fd())).isEqualTo(4 * MIB);
            for (int i = 0; i < 4; i++)
            {
                final GuestRam.Region r = ram.region(i);
                assertThat(r.guestPhysAddr()).isEqualTo(i * MIB);
                assertThat(r.size()).isEqualTo(MIB);
                assertThat(r.mmapOffset()).isEqualTo(i * MIB);
                assertThat(r.userAddr()).isEqualTo(ram.segment().address() + i * MIB);
            }
            assertThat(ram.runStart(3 * MIB + 5)).isZero();
            assertThat(ram.runSegment(5).byteSize()).isEqualTo(4 * MIB);
        }
    }

    @Test
    void gapSeparatesRegionsAndAllocationsNeverCrossIt() throws Exception
    {
        try (GuestRam ram = GuestRam.builder().size(2 * MIB).regions(2).baseGpa(16 * MIB).gap(MIB).build())
        {
            assertThat(ram.region(0).guestPhysAddr()).isEqualTo(16 * MIB);
            assertThat(ram.region(1).guestPhysAddr()).isEqualTo(18 * MIB);
            assertThat(ram.region(1).mmapOffset()).isEqualTo(MIB);
            assertThat(ram.isRam(17 * MIB - 1, 1)).isTrue();
            assertThat(ram.isRam(17 * MIB - 1, 2)).isFalse();
            assertThat(ram.regionIndexOf(17 * MIB)).isEqualTo(-1);

            assertThat(ram.allocate(MIB - 4096, 4096)).isEqualTo(16 * MIB);
            // 8 KiB do not fit in the 4 KiB left of region 0: they go to region 1.
            assertThat(ram.allocate(8192, 8)).isEqualTo(18 * MIB);
            assertThat(ram.allocate(100, 4096)).isEqualTo(18 * MIB + 8192);
            assertThatThrownBy(() -> ram.allocate(MIB, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exhausted");
            assertThatThrownBy(() -> ram.slice(17 * MIB - 10, 20)).isInstanceOf(IllegalArgumentException.class);
            assertThat(ram.runSegment(18 * MIB).byteSize()).isEqualTo(MIB);
        }
    }

    @Test
    void allocationsAreAlignedAndMaySpanAdjacentRegions() throws Exception
    {
        try (GuestRam ram = GuestRam.create(2 * MIB, 2))
        {
            assertThat(ram.allocate(3, 1)).isZero();
            assertThat(ram.allocate(10, 64)).isEqualTo(64);
            final long spanning = ram.allocateAt(MIB - 100, 200);
            assertThat(ram.regionIndexOf(spanning)).isZero();
            assertThat(ram.regionIndexOf(spanning + 199)).isEqualTo(1);
            assertThat(ram.nextFree()).isEqualTo(MIB + 100);
            assertThatThrownBy(() -> ram.allocateAt(0, 1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> ram.allocate(1, 3)).isInstanceOf(IllegalArgumentException.class);
            final long mark = ram.nextFree();
            ram.allocate(4096, 4096);
            ram.releaseTo(mark);
            assertThat(ram.nextFree()).isEqualTo(mark);
        }
    }

    @Test
    void readsAndWritesByGuestPhysicalAddressFollowTheRegionsInTheMemfd() throws Exception
    {
        try (GuestRam ram = GuestRam.builder().size(2 * MIB).regions(2).gap(MIB).build())
        {
            final byte[] data = {1, 2, 3, 4, 5};
            ram.write(2 * MIB + 10, data, 0, 5);
            assertThat(ram.segment().asSlice(MIB + 10, 5).toArray(ValueLayout.JAVA_BYTE))
                .containsExactly(data);
            assertThat(ram.read(2 * MIB + 10, 5)).containsExactly(data);
            assertThat(ram.getByte(2 * MIB + 12)).isEqualTo((byte)3);
            assertThat(ram.userAddrOf(2 * MIB + 10)).isEqualTo(ram.segment().address() + MIB + 10);
            assertThat(ram.offsetOf(2 * MIB + 10)).isEqualTo(MIB + 10);
            assertThatThrownBy(() -> ram.offsetOf(MIB + 10)).isInstanceOf(IllegalArgumentException.class);
        }
        try (GuestRam ram = GuestRam.create(2 * MIB, 2))
        {
            final MemorySegment src = MemorySegment.ofArray(new byte[] {9, 8, 7, 6});
            ram.write(MIB - 2, src, 0, 4);
            assertThat(ram.read(MIB - 2, 4)).containsExactly(9, 8, 7, 6);
            assertThat(ram.slice(MIB - 2, 4).byteSize()).isEqualTo(4);
            ram.fill(MIB - 1, 2, (byte)0x55);
            assertThat(ram.read(MIB - 2, 4)).containsExactly(9, 0x55, 0x55, 6);
        }
    }

    @Test
    void closeUnmapsTheMemory() throws Exception
    {
        final GuestRam ram = GuestRam.create(MIB, 1);
        final MemorySegment segment = ram.segment();
        ram.close();
        assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0))
            .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void invalidLayoutsAreRejected()
    {
        assertThatThrownBy(() -> GuestRam.create(MIB, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GuestRam.create(MIB + 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GuestRam.builder().size(MIB).gap(100).build())
            .isInstanceOf(IllegalArgumentException.class);
    }
}
