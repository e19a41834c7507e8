package io.jvhost.xen;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.Errno;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The exact bytes of the device-model hypercalls through privcmd (Xen's public/hvm/dm_op.h, Linux's xen/privcmd.h),
 * recorded by a fake privcmd.
 */
class DeviceModelOpsTest
{
    private static final HexFormat HEX = HexFormat.of();

    /** Records each ioctl's request and the xen_dm_op (or mmap_resource) bytes; answers like Xen would. */
    private static final class FakePrivcmd implements XenSyscalls
    {
        final List<String> calls = new ArrayList<>();
        int fail;

        @Override
        public long mmapShared(final long fixedAddress, final long length, final int fd, final long offset)
        {
            calls.add("mmap " + length + " fd " + fd + " offset " + offset);
            return 0x7000_0000_0000L;
        }

        @Override
        public long reserve(final long fixedAddress, final long length)
        {
            throw new UnsupportedOperationException();
        }

        @Override
        public int munmap(final long address, final long length)
        {
            calls.add("munmap 0x" + Long.toHexString(address) + " " + length);
            return 0;
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            if (request == DeviceModelOps.IOCTL_PRIVCMD_DM_OP)
            {
                final MemorySegment a = arg.reinterpret(16);
                final MemorySegment buf = MemorySegment.ofAddress(a.get(ValueLayout.JAVA_LONG, 8)).reinterpret(16);
                final MemorySegment op = MemorySegment.ofAddress(buf.get(ValueLayout.JAVA_LONG, 0))
                    .reinterpret(buf.get(ValueLayout.JAVA_LONG, 8));
                calls.add("dm_op dom " + a.get(ValueLayout.JAVA_SHORT, 0) + " num " + a.get(ValueLayout.JAVA_SHORT, 2)
                    + " " + HEX.formatHex(op.toArray(ValueLayout.JAVA_BYTE)));
                if (fail != 0)
                {
                    return -fail;
                }
                final int code = op.get(ValueLayout.JAVA_INT, 0);
                if (code == DeviceModelOps.XEN_DMOP_CREATE_IOREQ_SERVER)
                {
                    op.set(ValueLayout.JAVA_SHORT, 12, (short)3);
                }
                else if (code == DeviceModelOps.XEN_DMOP_NR_VCPUS)
                {
                    op.set(ValueLayout.JAVA_INT, 8, 2);
                }
                return 0;
            }
            calls.add("ioctl 0x" + Long.toHexString(request) + " "
                + HEX.formatHex(arg.reinterpret(32).toArray(ValueLayout.JAVA_BYTE)));
            return fail != 0 ? -fail : 0;
        }
    }

    @Test
    void ioctlNumbersAndSizesAreTheKernelHeaders()
    {
        assertThat(DeviceModelOps.IOCTL_PRIVCMD_DM_OP).isEqualTo('P' << 8 | 5 | 16 << 16);
        assertThat(DeviceModelOps.IOCTL_PRIVCMD_MMAP_RESOURCE).isEqualTo('P' << 8 | 7 | 32 << 16);
        assertThat(EventChannels.IOCTL_EVTCHN_BIND_INTERDOMAIN).isEqualTo('E' << 8 | 1 | 8 << 16);
        assertThat(EventChannels.IOCTL_EVTCHN_NOTIFY).isEqualTo('E' << 8 | 4 | 4 << 16);
        assertThat(EventChannels.IOCTL_EVTCHN_UNBIND).isEqualTo('E' << 8 | 3 | 4 << 16);
    }

    @Test
    void eachDeviceModelOpSendsOneThirtyTwoByteXenDmOp() throws Exception
    {
        final FakePrivcmd fake = new FakePrivcmd();
        final DeviceModelOps dm = new DeviceModelOps(fake, 9, 7);
        assertThat(dm.vcpus()).isEqualTo(2);
        assertThat(dm.createIoreqServer()).isEqualTo(3);
        dm.mapMmio(3, 0x200_0000L, 0x200_01FFL);
        dm.setServerState(3, true);
        assertThat(dm.setIrqLevel(33, true)).isZero();
        dm.destroyServer(3);
        assertThat(fake.calls).containsExactly(
            "dm_op dom 7 num 1 1400000000000000" + "0".repeat(48),
            "dm_op dom 7 num 1 0100000000000000" + "0".repeat(48),
            "dm_op dom 7 num 1 03000000000000000300000001000000" + "0000000200000000" + "ff01000200000000",
            "dm_op dom 7 num 1 05000000000000000300010000000000" + "0".repeat(32),
            "dm_op dom 7 num 1 13000000000000002100000001000000" + "0".repeat(32),
            "dm_op dom 7 num 1 06000000000000000300000000000000" + "0".repeat(32));
    }

    @Test
    void theIoreqPageIsMappedThroughMmapResourceFrameOne() throws Exception
    {
        final FakePrivcmd fake = new FakePrivcmd();
        final DeviceModelOps dm = new DeviceModelOps(fake, 9, 7);
        final MemorySegment page = dm.mapIoreqPage(3);
        assertThat(page.address()).isEqualTo(0x7000_0000_0000L);
        assertThat(page.byteSize()).isEqualTo(4096);
        assertThat(fake.calls).containsExactly("mmap 4096 fd 9 offset 0",
            "ioctl 0x205007 0700000000000000030000000100000001000000000000000000000000700000");
    }

    @Test
    void failuresNameTheCallTheDomainAndTheErrnoAndUnmap()
    {
        final FakePrivcmd fake = new FakePrivcmd();
        fake.fail = Errno.ENOENT;
        final DeviceModelOps dm = new DeviceModelOps(fake, 9, 7);
        assertThatThrownBy(dm::createIoreqServer).hasMessage(
            "XEN_DMOP_create_ioreq_server (domid 7) failed: ENOENT");
        assertThat(dm.setIrqLevel(33, false)).isEqualTo(-Errno.ENOENT);
        assertThatThrownBy(() -> dm.mapIoreqPage(3)).hasMessage(
            "IOCTL_PRIVCMD_MMAP_RESOURCE (domid 7, ioreq server 3, frame 1) failed: ENOENT");
        assertThat(fake.calls).endsWith("munmap 0x700000000000 4096");
        assertThatThrownBy(() -> new DeviceModelOps(fake, 9, 0)).hasMessageContaining("domid 0");
    }
}
