package io.jvhost.memory.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The privcmd and gntdev ioctl structs: numbers and sizes as Linux's UAPI headers give them (checked on x86-64 and
 * aarch64 by the feasibility study, xen.md section 4), and the exact bytes each flyweight writes (little-endian
 * hosts).
 */
class XenStructsTest
{
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void ioctlNumbersEncodeTypeNumberAndSizeLikeTheKernelHeaders()
    {
        assertThat(PrivcmdMmapBatchV2.IOCTL_PRIVCMD_MMAPBATCH_V2).isEqualTo(0x0020_5004L);
        assertThat(GntdevMapGrantRef.IOCTL_GNTDEV_MAP_GRANT_REF).isEqualTo(0x0018_4700L);
        assertThat(GntdevUnmapGrantRef.IOCTL_GNTDEV_UNMAP_GRANT_REF).isEqualTo(0x0010_4701L);
    }

    @Test
    void structSizesMatchTheKernelHeaders()
    {
        assertThat(PrivcmdMmapBatchV2.SIZE).isEqualTo(32);
        assertThat(GntdevMapGrantRef.size(1)).isEqualTo(24);
        assertThat(GntdevMapGrantRef.size(16)).isEqualTo(16 + 8 * 16);
        assertThat(GntdevUnmapGrantRef.SIZE).isEqualTo(16);
    }

    @Test
    void mmapBatchV2BytesAreNumDomPaddingAddrArrErr()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment s = arena.allocate(32, 8);
            s.fill((byte)0x5A);
            final MemorySegment arr = MemorySegment.ofAddress(0x1122_3344_5566_7788L);
            final MemorySegment err = MemorySegment.ofAddress(0x0102_0304_0506_0708L);
            new PrivcmdMmapBatchV2().wrap(s).set(0x100, 7, 0x7F00_1234_5000L, arr, err);
            assertThat(HEX.formatHex(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))).isEqualTo(
                "00010000" + "0700" + "0000" + "0050341200" + "7f0000" + "8877665544332211" + "0807060504030201");
            final PrivcmdMmapBatchV2 b = new PrivcmdMmapBatchV2().wrap(s);
            assertThat(b.num()).isEqualTo(0x100);
            assertThat(b.dom()).isEqualTo(7);
            assertThat(b.addr()).isEqualTo(0x7F00_1234_5000L);
        }
    }

    @Test
    void mapGrantRefBytesAreCountPadIndexThenDomidRefPairsOfConsecutiveRefs()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment s = arena.allocate(GntdevMapGrantRef.size(3), 8);
            s.fill((byte)0x5A);
            final GntdevMapGrantRef r = new GntdevMapGrantRef().wrap(s).setConsecutive(5, 0x10, 3);
            assertThat(HEX.formatHex(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))).isEqualTo(
                "03000000" + "00000000" + "0000000000000000"
                    + "05000000" + "10000000" + "05000000" + "11000000" + "05000000" + "12000000");
            s.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8, 0x3000L);
            assertThat(r.index()).isEqualTo(0x3000L);
            assertThat(r.count()).isEqualTo(3);
            assertThat(r.ref(2)).isEqualTo(0x12);
        }
    }

    @Test
    void unmapGrantRefBytesAreIndexCountPad()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment s = arena.allocate(16, 8);
            s.fill((byte)0x5A);
            new GntdevUnmapGrantRef().wrap(s).set(0x2_0000L, 16);
            assertThat(HEX.formatHex(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))).isEqualTo(
                "0000020000000000" + "10000000" + "00000000");
        }
    }
}
