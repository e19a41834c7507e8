package io.jvhost.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.jvhost.memory.xen.FakeXen;
import io.jvhost.memory.xen.GrantWindow;
import io.jvhost.memory.xen.PrivcmdMmapBatchV2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Xen regions mapped through the in-process fake of privcmd and gntdev ({@link FakeXen}): the requests the kernel
 * gets (exact fields), the bytes the back-end then sees and writes, per-access grant mapping that leaves nothing
 * mapped, and failures that leave nothing behind.
 */
class XenRegionTest
{
    private static final int DOMID = 3;
    private static final long PAGE = 4096;
    private static final long GRANT = 1L << 63;
    private static final long RAM = 256 * PAGE;
    private static final long UADDR = 0x7000_0000_0000L;

    private FakeXen xen;

    @BeforeEach
    void guest() throws Exception
    {
        xen = new FakeXen(DOMID, RAM);
    }

    private final java.util.List<Integer> fds = new java.util.ArrayList<>();

    @AfterEach
    void close()
    {
        fds.forEach(io.jvhost.os.LibC::closeQuietly);
        xen.close();
    }

    private int privcmd() throws Exception
    {
        fds.add(xen.openPrivcmd());
        return fds.getLast();
    }

    private int gntdev() throws Exception
    {
        fds.add(xen.openGntdev());
        return fds.getLast();
    }

    @Test
    void foreignRegionIsOneMmapBatchOfConsecutiveFramesAndSharesTheGuestsBytes() throws Exception
    {
        xen.ram().set(ValueLayout.JAVA_LONG_UNALIGNED, 5 * PAGE + 8, 0x1122_3344_5566_7788L);
        final MemoryRegion r = MemoryRegion.mapXen(xen, privcmd(), FakeXen.RAM_GPA, RAM, UADDR, 0,
            XenMmap.FOREIGN, DOMID);
        try
        {
            final List<FakeXen.Call> batches = xen.calls("MMAPBATCH_V2");
            assertThat(batches).hasSize(1);
            final MemorySegment arg = MemorySegment.ofArray(batches.getFirst().bytes());
            final PrivcmdMmapBatchV2 b = new PrivcmdMmapBatchV2().wrap(arg);
            assertThat(b.num()).isEqualTo(256);
            assertThat(b.dom()).isEqualTo(DOMID);
            assertThat(b.addr()).as("the batch fills the range mmapped from privcmd: the region's bytes")
                .isEqualTo(r.bytes().address());
            assertThat(r.bytes().byteSize()).isEqualTo(RAM);
            assertThat(r.kind()).isEqualTo(XenMmap.Kind.FOREIGN);
            assertThat(r.bytes().get(ValueLayout.JAVA_LONG_UNALIGNED, 5 * PAGE + 8)).isEqualTo(0x1122_3344_5566_7788L);
            r.bytes().set(ValueLayout.JAVA_INT_UNALIGNED, 255 * PAGE, 0xCAFE);
            assertThat(xen.ram().get(ValueLayout.JAVA_INT_UNALIGNED, 255 * PAGE)).isEqualTo(0xCAFE);
        }
        finally
        {
            r.release();
        }
    }

    @Test
    void foreignFramesTheHypervisorRefusesFailTheRegionWithTheFrameAndErrno() throws Exception
    {
        // One page past the guest's RAM: err[256] is set although the call succeeded.
        assertThatThrownBy(() -> MemoryRegion.mapXen(xen, privcmd(), FakeXen.RAM_GPA, RAM + PAGE, UADDR, 0,
            XenMmap.FOREIGN, DOMID)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("refused gfn 0x40100: EINVAL").hasMessageContaining("domid=3");
        assertThatThrownBy(() -> MemoryRegion.mapXen(xen, privcmd(), FakeXen.RAM_GPA, RAM, UADDR, 0,
            XenMmap.FOREIGN, DOMID + 1)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("refused gfn 0x40000: ESRCH");
    }

    @Test
    void foreignFlagOnAFileThatIsNotPrivcmdFailsWithTheIoctlsErrno() throws Exception
    {
        try (Arena arena = Arena.ofConfined())
        {
            final io.jvhost.os.MemFd memfd = io.jvhost.os.MemFd.create("not-privcmd", RAM);
            try
            {
                assertThatThrownBy(() -> MemoryRegion.mapXen(xen, memfd.fd(), FakeXen.RAM_GPA, RAM, UADDR, 0,
                    XenMmap.FOREIGN, DOMID)).isInstanceOf(GuestMemoryException.class)
                    .hasMessageContaining("IOCTL_PRIVCMD_MMAPBATCH_V2 failed: ENOTTY");
            }
            finally
            {
                memfd.close();
            }
        }
    }

    @Test
    void grantRegionMapsConsecutiveRefsUpFrontAndUnmapsOnRelease() throws Exception
    {
        for (int i = 0; i < 4; i++)
        {
            xen.grant(0x20 + i, FakeXen.RAM_GPA + (10 + 2L * i) * PAGE); // scattered pages, consecutive refs
            xen.ram().set(ValueLayout.JAVA_BYTE, (10 + 2L * i) * PAGE + 7, (byte)(0x40 + i));
        }
        final MemoryRegion r = MemoryRegion.mapXen(xen, gntdev(), GRANT | 0x20L << 12, 4 * PAGE, UADDR, 0,
            XenMmap.GRANT, DOMID);
        final List<FakeXen.Call> maps = xen.calls("MAP_GRANT_REF");
        assertThat(maps).hasSize(1);
        final MemorySegment arg = MemorySegment.ofArray(maps.getFirst().bytes()).asReadOnly();
        assertThat(arg.byteSize()).isEqualTo(16 + 4 * 8);
        assertThat(arg.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder()), 0)).isEqualTo(4);
        for (int i = 0; i < 4; i++)
        {
            assertThat(arg.get(ValueLayout.JAVA_INT_UNALIGNED, 16 + 8 * i)).as("domid of ref %d", i).isEqualTo(DOMID);
            assertThat(arg.get(ValueLayout.JAVA_INT_UNALIGNED, 20 + 8 * i)).as("ref %d", i).isEqualTo(0x20 + i);
            assertThat(r.bytes().get(ValueLayout.JAVA_BYTE, i * PAGE + 7)).isEqualTo((byte)(0x40 + i));
        }
        assertThat(xen.outstandingGrantMaps()).isEqualTo(1);
        r.release();
        assertThat(xen.outstandingGrantMaps()).as("UNMAP_GRANT_REF after munmap").isZero();
        assertThat(xen.calls("UNMAP_GRANT_REF")).hasSize(1);
    }

    @Test
    void grantOfARefTheGuestNeverGrantedFailsAndLeavesNoMapBehind() throws Exception
    {
        xen.grant(0x20, FakeXen.RAM_GPA);
        assertThatThrownBy(() -> MemoryRegion.mapXen(xen, gntdev(), GRANT | 0x20L << 12, 2 * PAGE, UADDR, 0,
            XenMmap.GRANT, DOMID)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("mmap of the gntdev descriptor").hasMessageContaining("EFAULT")
            .hasMessageContaining("refs 32..33");
        assertThat(xen.outstandingGrantMaps()).isZero();
    }

    @Test
    void onAccessGrantRegionIsMappedPerCopyWindowByWindowAndUnmappedAfter() throws Exception
    {
        final int pages = GrantWindow.PAGES * 2 + 3;
        for (int i = 0; i < pages; i++)
        {
            xen.grant(0x100 + i, FakeXen.RAM_GPA + (pages - 1 - i) * PAGE); // reversed: page order is by ref
        }
        final MemoryRegion r = MemoryRegion.mapXen(xen, gntdev(), GRANT | 0x100L << 12, pages * PAGE, 0, 0,
            XenMmap.GRANT | XenMmap.NO_ADVANCE_MAP_SPEC, DOMID);
        final GuestMemory memory = GuestMemory.of(List.of(r), 8);
        try (Arena arena = Arena.ofConfined())
        {
            assertThat(r.isMappedOnAccess()).isTrue();
            assertThat(xen.calls()).as("nothing mapped in advance").isEmpty();
            final long length = pages * PAGE - 100;
            final MemorySegment out = arena.allocate(length);
            for (long i = 0; i < length; i++)
            {
                out.set(ValueLayout.JAVA_BYTE, i, (byte)(i * 7));
            }
            memory.write(GRANT | 0x100L << 12 | 50, out, 0, length);
            assertThat(xen.grantMmaps()).as("three windows of up to 16 pages").isEqualTo(3);
            assertThat(xen.outstandingGrantMaps()).isZero();
            // Byte 0 of the copy is at page 0 offset 50: ref 0x100, which the guest placed at its last page.
            assertThat(xen.ram().get(ValueLayout.JAVA_BYTE, (pages - 1) * PAGE + 50)).isEqualTo((byte)0);
            assertThat(xen.ram().get(ValueLayout.JAVA_BYTE, (pages - 2) * PAGE)).isEqualTo((byte)((PAGE - 50) * 7));
            final MemorySegment in = arena.allocate(length);
            memory.read(GRANT | 0x100L << 12 | 50, in, 0, length);
            assertThat(in.mismatch(out)).isEqualTo(-1);
            assertThat(xen.outstandingGrantMaps()).isZero();
            assertThatThrownBy(() -> memory.slice(GRANT | 0x100L << 12, 16)).isInstanceOf(GuestMemoryException.class)
                .hasMessageContaining("mapped per access");
        }
        finally
        {
            memory.release();
        }
    }

    @Test
    void onAccessCopyOfARevokedGrantFailsWithTheRefAndLeavesNothingMapped() throws Exception
    {
        for (int i = 0; i < 4; i++)
        {
            xen.grant(0x10 + i, FakeXen.RAM_GPA + i * PAGE);
        }
        final MemoryRegion r = MemoryRegion.mapXen(xen, gntdev(), GRANT | 0x10L << 12, 4 * PAGE, 0, 0,
            XenMmap.GRANT | XenMmap.NO_ADVANCE_MAP, DOMID);
        final GuestMemory memory = GuestMemory.of(List.of(r), 8);
        try (Arena arena = Arena.ofConfined())
        {
            xen.revoke(0x12);
            final MemorySegment buf = arena.allocate(4 * PAGE);
            assertThatThrownBy(() -> memory.read(GRANT | 0x10L << 12, buf, 0, 4 * PAGE))
                .isInstanceOf(GuestMemoryException.class).hasMessageContaining("ref 16, domid 3")
                .hasMessageContaining("EFAULT");
            assertThat(xen.outstandingGrantMaps()).isZero();
            assertThat(GrantWindow.forThread().isMapped()).isFalse();
        }
        finally
        {
            memory.release();
        }
    }

    @Test
    void grantAddressesSortAndLookUpUnsignedNextToOrdinaryRegions() throws Exception
    {
        xen.grant(1, FakeXen.RAM_GPA);
        final MemoryRegion low = MemoryRegion.ofSegment(0x1000, Arena.ofAuto().allocate(PAGE), UADDR);
        final MemoryRegion high = MemoryRegion.mapXen(xen, gntdev(), GRANT | 1L << 12, PAGE, UADDR + PAGE, 0,
            XenMmap.GRANT, DOMID);
        final GuestMemory memory = GuestMemory.of(List.of(high, low), 8);
        try
        {
            assertThat(memory.region(0)).isSameAs(low);
            assertThat(memory.regionIndexOf(GRANT | 1L << 12 | 5)).isEqualTo(1);
            assertThat(memory.regionIndexOf(GRANT)).isEqualTo(-1);
            assertThat(memory.isValidRange(GRANT | 1L << 12, PAGE)).isTrue();
            assertThat(memory.isValidRange(GRANT | 1L << 12, PAGE + 1)).isFalse();
            assertThat(memory.isValidRange(-1L, 2)).as("wraps past 2^64").isFalse();
            assertThat(memory.userToGuestPhys(UADDR + PAGE + 3)).isEqualTo(GRANT | 1L << 12 | 3);
        }
        finally
        {
            memory.release();
        }
    }
}
