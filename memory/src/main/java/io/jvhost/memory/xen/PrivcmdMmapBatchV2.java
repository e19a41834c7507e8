package io.jvhost.memory.xen;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Flyweight over Linux's {@code struct privcmd_mmapbatch_v2} (include/uapi/xen/privcmd.h), the argument of
 * {@code IOCTL_PRIVCMD_MMAPBATCH_V2}: map guest frames {@code arr[0..num)} of domain {@code dom} at {@code addr}, a
 * range this process mmapped from the privcmd descriptor; per-frame errors come back in {@code err}.
 * <pre>
 *  0         4         6         8                16                24                32
 *  +---------+---------+---------+----------------+----------------+----------------+
 *  | num u32 | dom u16 | (pad)   | addr u64       | arr u64 (ptr)  | err u64 (ptr)  |
 *  +---------+---------+---------+----------------+----------------+----------------+
 *  arr: xen_pfn_t (u64) per frame    err: int per frame
 * </pre>
 * Host byte order; the same layout on x86-64 and aarch64.
 */
public final class PrivcmdMmapBatchV2
{
    public static final int SIZE = 32;
    /** {@code _IOC(_IOC_NONE, 'P', 4, sizeof(struct privcmd_mmapbatch_v2))}. */
    public static final long IOCTL_PRIVCMD_MMAPBATCH_V2 = XenIoctl.ioc('P', 4, SIZE);

    static final int NUM = 0;
    static final int DOM = 4;
    static final int ADDR = 8;
    static final int ARR = 16;
    static final int ERR = 24;

    private MemorySegment s;

    public PrivcmdMmapBatchV2 wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public PrivcmdMmapBatchV2 set(final int num, final int dom, final long addr, final MemorySegment arr,
        final MemorySegment err)
    {
        s.set(JAVA_INT_UNALIGNED, NUM, num);
        s.set(JAVA_SHORT_UNALIGNED, DOM, (short)dom);
        s.set(JAVA_SHORT_UNALIGNED, DOM + 2, (short)0);
        s.set(JAVA_LONG_UNALIGNED, ADDR, addr);
        s.set(JAVA_LONG_UNALIGNED, ARR, arr.address());
        s.set(JAVA_LONG_UNALIGNED, ERR, err.address());
        return this;
    }

    public int num()
    {
        return s.get(JAVA_INT_UNALIGNED, NUM);
    }

    public int dom()
    {
        return Short.toUnsignedInt(s.get(JAVA_SHORT_UNALIGNED, DOM));
    }

    public long addr()
    {
        return s.get(JAVA_LONG_UNALIGNED, ADDR);
    }

    public long arr()
    {
        return s.get(JAVA_LONG_UNALIGNED, ARR);
    }

    public long err()
    {
        return s.get(JAVA_LONG_UNALIGNED, ERR);
    }
}
