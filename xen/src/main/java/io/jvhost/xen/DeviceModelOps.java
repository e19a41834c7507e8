package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.Errno;

/**
 * A device model's hypercalls through {@code /dev/xen/privcmd}, as libxendevicemodel and libxenforeignmemory make
 * them, without those libraries: {@code IOCTL_PRIVCMD_DM_OP} with one {@code struct xen_dm_op} buffer, and
 * {@code IOCTL_PRIVCMD_MMAP_RESOURCE} for the IOREQ server's shared page. Layouts (little-endian, Xen's
 * public/hvm/dm_op.h and Linux's xen/privcmd.h):
 *
 * <pre>
 * struct privcmd_dm_op (16, IOCTL_PRIVCMD_DM_OP = _IOC(_IOC_NONE, 'P', 5, 16) = 0x00105005)
 *   0  u16 dom   2  u16 num (1)   4  pad   8  u64 ubufs -&gt; struct privcmd_dm_op_buf { u64 uptr; u64 size; }
 * struct xen_dm_op (32: u32 op, u32 pad, a 24-byte union at 8)
 *   create_ioreq_server  (op 1)   8 u8 handle_bufioreq (0)   12 u16 id (out)
 *   map_io_range         (op 3)   8 u16 id   12 u32 type (1 = MMIO)   16 u64 start   24 u64 end (inclusive)
 *   set_ioreq_srv_state  (op 5)   8 u16 id   10 u8 enabled
 *   destroy_ioreq_server (op 6)   8 u16 id
 *   set_irq_level        (op 19)  8 u32 irq  12 u8 level
 *   nr_vcpus             (op 20)  8 u32 vcpus (out)
 * struct privcmd_mmap_resource (32, IOCTL_PRIVCMD_MMAP_RESOURCE = _IOC(_IOC_NONE, 'P', 7, 32) = 0x00205007)
 *   0 u16 dom   4 u32 type (0 = XENMEM_resource_ioreq_server)   8 u32 id   12 u32 idx (1 = the ioreq page)
 *   16 u64 num (frames)   24 u64 addr (a MAP_SHARED mapping of the privcmd fd, made first)
 * </pre>
 * Each call allocates its small argument buffers (set-up path) except {@link #setIrqLevel}, which reuses one (it
 * runs per interrupt). One thread at a time.
 */
public final class DeviceModelOps
{
    public static final long IOCTL_PRIVCMD_DM_OP = 0x0010_5005L;
    public static final long IOCTL_PRIVCMD_MMAP_RESOURCE = 0x0020_5007L;
    public static final int DM_OP_SIZE = 32;

    public static final int XEN_DMOP_CREATE_IOREQ_SERVER = 1;
    public static final int XEN_DMOP_MAP_IO_RANGE_TO_IOREQ_SERVER = 3;
    public static final int XEN_DMOP_SET_IOREQ_SERVER_STATE = 5;
    public static final int XEN_DMOP_DESTROY_IOREQ_SERVER = 6;
    public static final int XEN_DMOP_SET_IRQ_LEVEL = 19;
    public static final int XEN_DMOP_NR_VCPUS = 20;
    public static final int XEN_DMOP_IO_RANGE_MEMORY = 1;
    public static final int XENMEM_RESOURCE_IOREQ_SERVER = 0;
    public static final int XENMEM_RESOURCE_IOREQ_SERVER_FRAME_IOREQ0 = 1;
    public static final int PAGE = 4096;

    private final XenSyscalls sys;
    private final int privcmd;
    private final int domid;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment op = arena.allocate(DM_OP_SIZE, 8);
    private final MemorySegment buf = arena.allocate(16, 8);
    private final MemorySegment call = arena.allocate(16, 8);

    public DeviceModelOps(final XenSyscalls sys, final int privcmd, final int domid)
    {
        if (domid <= 0 || domid >= 0x7FF0)
        {
            throw new IllegalArgumentException("domid " + domid + " is not a domU's (1..0x7fef)");
        }
        this.sys = sys;
        this.privcmd = privcmd;
        this.domid = domid;
        buf.set(ValueLayout.JAVA_LONG, 0, op.address());
        buf.set(ValueLayout.JAVA_LONG, 8, DM_OP_SIZE);
        call.set(ValueLayout.JAVA_SHORT, 0, (short)domid);
        call.set(ValueLayout.JAVA_SHORT, 2, (short)1);
        call.set(ValueLayout.JAVA_LONG, 8, buf.address());
    }

    public int domid()
    {
        return domid;
    }

    /** XEN_DMOP_create_ioreq_server without buffered ioreqs. @return the server id. */
    public int createIoreqServer() throws XenException
    {
        begin(XEN_DMOP_CREATE_IOREQ_SERVER);
        dmOp("XEN_DMOP_create_ioreq_server");
        return op.get(ValueLayout.JAVA_SHORT, 12) & 0xFFFF;
    }

    /** XEN_DMOP_map_io_range_to_ioreq_server for MMIO {@code start .. end} (inclusive). */
    public void mapMmio(final int server, final long start, final long end) throws XenException
    {
        begin(XEN_DMOP_MAP_IO_RANGE_TO_IOREQ_SERVER);
        op.set(ValueLayout.JAVA_SHORT, 8, (short)server);
        op.set(ValueLayout.JAVA_INT, 12, XEN_DMOP_IO_RANGE_MEMORY);
        op.set(ValueLayout.JAVA_LONG, 16, start);
        op.set(ValueLayout.JAVA_LONG, 24, end);
        dmOp("XEN_DMOP_map_io_range_to_ioreq_server 0x" + Long.toHexString(start) + "..0x" + Long.toHexString(end));
    }

    public void setServerState(final int server, final boolean enabled) throws XenException
    {
        begin(XEN_DMOP_SET_IOREQ_SERVER_STATE);
        op.set(ValueLayout.JAVA_SHORT, 8, (short)server);
        op.set(ValueLayout.JAVA_BYTE, 10, (byte)(enabled ? 1 : 0));
        dmOp("XEN_DMOP_set_ioreq_server_state " + enabled);
    }

    public void destroyServer(final int server) throws XenException
    {
        begin(XEN_DMOP_DESTROY_IOREQ_SERVER);
        op.set(ValueLayout.JAVA_SHORT, 8, (short)server);
        dmOp("XEN_DMOP_destroy_ioreq_server");
    }

    /** XEN_DMOP_nr_vcpus. */
    public int vcpus() throws XenException
    {
        begin(XEN_DMOP_NR_VCPUS);
        dmOp("XEN_DMOP_nr_vcpus");
        return op.get(ValueLayout.JAVA_INT, 8);
    }

    /**
     * XEN_DMOP_set_irq_level (Arm: the domU's SPI through its vGIC). Allocation-free.
     *
     * @return 0, or {@code -errno}.
     */
    public int setIrqLevel(final int irq, final boolean level)
    {
        begin(XEN_DMOP_SET_IRQ_LEVEL);
        op.set(ValueLayout.JAVA_INT, 8, irq);
        op.set(ValueLayout.JAVA_BYTE, 12, (byte)(level ? 1 : 0));
        final int rc = sys.ioctl(privcmd, IOCTL_PRIVCMD_DM_OP, call);
        return rc < 0 ? rc : 0;
    }

    /**
     * Maps the IOREQ server's synchronous ioreq page (one {@code ioreq_t} of 32 bytes per vCPU) through
     * {@code IOCTL_PRIVCMD_MMAP_RESOURCE}.
     *
     * @return the page; unmap with {@link #unmap}.
     */
    public MemorySegment mapIoreqPage(final int server) throws XenException
    {
        final long address = sys.mmapShared(0, PAGE, privcmd, 0);
        if (address < 0)
        {
            throw new XenException("mmap of the privcmd descriptor failed: " + Errno.name((int)-address));
        }
        try (Arena a = Arena.ofConfined())
        {
            final MemorySegment r = a.allocate(32, 8);
            r.set(ValueLayout.JAVA_SHORT, 0, (short)domid);
            r.set(ValueLayout.JAVA_INT, 4, XENMEM_RESOURCE_IOREQ_SERVER);
            r.set(ValueLayout.JAVA_INT, 8, server);
            r.set(ValueLayout.JAVA_INT, 12, XENMEM_RESOURCE_IOREQ_SERVER_FRAME_IOREQ0);
            r.set(ValueLayout.JAVA_LONG, 16, 1);
            r.set(ValueLayout.JAVA_LONG, 24, address);
            final int rc = sys.ioctl(privcmd, IOCTL_PRIVCMD_MMAP_RESOURCE, r);
            if (rc < 0)
            {
                sys.munmap(address, PAGE);
                throw new XenException("IOCTL_PRIVCMD_MMAP_RESOURCE (domid " + domid + ", ioreq server " + server
                    + ", frame 1) failed: " + Errno.name(-rc));
            }
        }
        return MemorySegment.ofAddress(address).reinterpret(PAGE);
    }

    public void unmap(final MemorySegment page)
    {
        sys.munmap(page.address(), page.byteSize());
    }

    private void begin(final int code)
    {
        op.fill((byte)0);
        op.set(ValueLayout.JAVA_INT, 0, code);
    }

    private void dmOp(final String what) throws XenException
    {
        final int rc = sys.ioctl(privcmd, IOCTL_PRIVCMD_DM_OP, call);
        if (rc < 0)
        {
            throw new XenException(what + " (domid " + domid + ") failed: " + Errno.name(-rc));
        }
    }
}
