package io.jvhost.memory;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Xen region flags and fields: the valid combinations (with both spellings of "not mapped in advance": rust-vmm's
 * 0x8 and vhost-user.rst's bit 8), and every malformed description refused with its values in the message.
 */
class XenMmapTest
{
    private static final long GRANT = 1L << 63;
    private static final long PAGE = 4096;

    @ParameterizedTest
    @CsvSource({"0x0, UNIX", "0x1, FOREIGN", "0x2, GRANT", "0xa, GRANT_ON_ACCESS", "0x102, GRANT_ON_ACCESS"})
    void validFlagCombinations(final String flags, final XenMmap.Kind kind) throws Exception
    {
        assertThat(XenMmap.kind(Integer.decode(flags))).isEqualTo(kind);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x3, 0x4, 0x8, 0x100, 0x9, 0x101, 0x108, 0x10a, 0x6, 0xb, 0x200, 0x8000_0000, 0xFFFF_FFFF})
    void everyOtherFlagCombinationIsRefusedWithItsValue(final int flags)
    {
        assertThatThrownBy(() -> XenMmap.kind(flags)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("invalid xen_mmap_flags 0x" + Integer.toHexString(flags));
    }

    @Test
    void foreignRegionIsAcceptedBelowBit63WithADomid() throws Exception
    {
        assertThat(XenMmap.validate(XenMmap.FOREIGN, 1, 0x4000_0000L, 64 * PAGE, 0)).isEqualTo(XenMmap.Kind.FOREIGN);
        assertThat(XenMmap.validate(XenMmap.FOREIGN, 0x7FEF, 0, PAGE, 0)).isEqualTo(XenMmap.Kind.FOREIGN);
    }

    @Test
    void foreignRegionWithAnMmapOffsetIsRefused()
    {
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.FOREIGN, 1, 0x4000_0000L, PAGE, 0x1000))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("mmap_offset 0")
            .hasMessageContaining("mmap_offset=0x1000").hasMessageContaining("domid)=1");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 0x7FF0, 0x7FF2, 0xFFFF, 0x1_0000, -1})
    void xenRegionWithADomidThatIsNoGuestsIsRefused(final int domid)
    {
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.FOREIGN, domid, 0x4000_0000L, PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("domid must be a guest's")
            .hasMessageContaining("(domid)=" + Integer.toUnsignedString(domid));
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT, domid, GRANT, PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("domid must be a guest's");
    }

    @Test
    void plainRegionMustNotCarryADomid() throws Exception
    {
        assertThat(XenMmap.validate(0, 0, 0, 3, 5)).isEqualTo(XenMmap.Kind.UNIX);
        assertThatThrownBy(() -> XenMmap.validate(0, 3, 0, PAGE, 0)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("domid 0").hasMessageContaining("(domid)=3");
    }

    @Test
    void grantRegionNeedsBit63AndWholePages() throws Exception
    {
        assertThat(XenMmap.validate(XenMmap.GRANT, 2, GRANT | 0x5000, 4 * PAGE, 0)).isEqualTo(XenMmap.Kind.GRANT);
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT, 2, 0x5000, PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("bit 63")
            .hasMessageContaining("guest_phys_addr=0x5000");
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT | XenMmap.NO_ADVANCE_MAP, 2, GRANT | 0x5800, PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("whole 4 KiB pages");
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT, 2, GRANT, PAGE + 1, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("whole 4 KiB pages");
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT, 2, GRANT, PAGE, 8192))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("mmap_offset 0");
    }

    @Test
    void grantReferencesMustNotPass32Bits() throws Exception
    {
        final long lastRefAddr = GRANT | 0xFFFF_FFFFL << 12;
        assertThat(XenMmap.validate(XenMmap.GRANT, 2, lastRefAddr, PAGE, 0)).isEqualTo(XenMmap.Kind.GRANT);
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.GRANT, 2, lastRefAddr, 2 * PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("pass 2^32 (last 0x100000000)");
        assertThat(XenMmap.firstRef(GRANT | 0x7_3000L)).isEqualTo(0x73);
    }

    @Test
    void foreignRegionAtOrAboveBit63AndOversizedRegionsAreRefused()
    {
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.FOREIGN, 1, GRANT, PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("below 2^63");
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.FOREIGN, 1, 0, XenMmap.MAX_REGION_SIZE + PAGE, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("at most 0x1000000000");
        assertThatThrownBy(() -> XenMmap.validate(XenMmap.FOREIGN, 1, 0, 0, 0))
            .isInstanceOf(GuestMemoryException.class).hasMessageContaining("size=0x0");
    }
}
