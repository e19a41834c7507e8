package io.jvhost.xen;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The IOREQ server's shared page: one {@code ioreq_t} per vCPU (Xen's public/hvm/ioreq.h), which the hypervisor
 * fills when the vCPU touches an MMIO range of the server and which the device model answers in place.
 *
 * <pre>
 * ioreq_t (32 bytes, at 32 * vcpu)
 *   0  u64 addr       guest physical address of the access
 *   8  u64 data       the value written, or the value to return for a read
 *  16  u32 count      repetitions (1 for Arm MMIO)
 *  20  u32 size       bytes (1, 2, 4, 8)
 *  24  u32 vp_eport   the vCPU's event channel (Xen's end)
 *  28  u16 pad
 *  30  u8  state:4 (0 none, 1 ready, 2 in process, 3 response ready), data_is_ptr:1, dir:1 (1 read), df:1
 *  31  u8  type       0 PIO, 1 COPY (MMIO), 8 INVALIDATE ...
 * </pre>
 * The page is written by the hypervisor on behalf of a possibly hostile guest: {@link #serve} answers only a READY
 * slot of type COPY with data_is_ptr 0, count 1 and a size of 1, 2, 4 or 8 inside the device's window; INVALIDATE
 * (Xen's map-cache broadcast) is completed and counted; anything else is completed without touching the device
 * (reads return all ones) and counted as refused.
 */
public final class IoreqPage
{
    public static final int SLOT = 32;
    public static final int STATE_NONE = 0;
    public static final int STATE_READY = 1;
    public static final int STATE_INPROCESS = 2;
    public static final int STATE_RESP_READY = 3;
    public static final int TYPE_COPY = 1;
    public static final int TYPE_INVALIDATE = 8;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;

    private final MemorySegment page;
    private final int vcpus;
    private final long base;
    private final VirtioMmio device;
    private long refused;
    private long served;
    private long invalidations;
    private String lastRefusal = "";

    /**
     * @param base the guest physical address of the device's window ({@link VirtioMmio#WINDOW} bytes).
     */
    public IoreqPage(final MemorySegment page, final int vcpus, final long base, final VirtioMmio device)
    {
        if (vcpus < 1 || (long)vcpus * SLOT > page.byteSize())
        {
            throw new IllegalArgumentException(vcpus + " vCPUs do not fit a " + page.byteSize() + "-byte ioreq page");
        }
        this.page = page;
        this.vcpus = vcpus;
        this.base = base;
        this.device = device;
    }

    /** The event channel port Xen allocated for {@code vcpu} (its end; bind it interdomain). */
    public int eventPort(final int vcpu)
    {
        return page.get(U32, (long)vcpu * SLOT + 24);
    }

    public int vcpus()
    {
        return vcpus;
    }

    /**
     * Answers {@code vcpu}'s request if one is ready.
     *
     * @return true when a response was written (notify the vCPU's event channel), false when the slot held none.
     */
    public boolean serve(final int vcpu)
    {
        if (vcpu < 0 || vcpu >= vcpus)
        {
            return false;
        }
        final long s = (long)vcpu * SLOT;
        VarHandle.acquireFence();
        final int flags = page.get(U8, s + 30) & 0xFF;
        if ((flags & 0xF) != STATE_READY)
        {
            return false;
        }
        page.set(U8, s + 30, (byte)(flags & ~0xF | STATE_INPROCESS));
        VarHandle.fullFence();
        final long addr = page.get(U64, s);
        final int count = page.get(U32, s + 16);
        final int size = page.get(U32, s + 20);
        final int type = page.get(U8, s + 31) & 0xFF;
        final boolean ptr = (flags & 0x10) != 0;
        final boolean read = (flags & 0x20) != 0;
        final long offset = addr - base;
        if (type == TYPE_INVALIDATE)
        {
            // Xen broadcasts this to every server when the domU's memory map changes, for device models with a
            // map cache (QEMU); the back-end maps the domU's RAM once and has none: complete it.
            invalidations++;
            VarHandle.releaseFence();
            page.set(U8, s + 30, (byte)(flags & ~0xF | STATE_RESP_READY));
            VarHandle.fullFence();
            return true;
        }
        final boolean ok = type == TYPE_COPY && !ptr && count == 1 && (size == 1 || size == 2 || size == 4
            || size == 8) && offset >= 0 && offset <= VirtioMmio.WINDOW - size;
        if (!ok)
        {
            refused++;
            lastRefusal = "vCPU " + vcpu + ": type " + type + ", " + (read ? "read" : "write") + " of " + size
                + " bytes x" + count + (ptr ? " (data_is_ptr)" : "") + " at 0x" + Long.toHexString(addr);
            if (read)
            {
                page.set(U64, s + 8, -1L);
            }
        }
        else if (read)
        {
            page.set(U64, s + 8, device.read(offset, size));
        }
        else
        {
            device.write(offset, size, size == 8 ? page.get(U64, s + 8)
                : page.get(U64, s + 8) & (-1L >>> (64 - 8 * size)));
        }
        if (ok)
        {
            served++;
        }
        VarHandle.releaseFence();
        page.set(U8, s + 30, (byte)(flags & ~0xF | STATE_RESP_READY));
        VarHandle.fullFence();
        return true;
    }

    /** Requests answered by the device. */
    public long served()
    {
        return served;
    }

    /** Map-cache invalidations (IOREQ_TYPE_INVALIDATE) completed. */
    public long invalidations()
    {
        return invalidations;
    }

    /** The last refused request, described ("" when none). */
    public String lastRefusal()
    {
        return lastRefusal;
    }

    /** Requests completed without the device (wrong type, size, count, pointer data or address). */
    public long refused()
    {
        return refused;
    }
}
