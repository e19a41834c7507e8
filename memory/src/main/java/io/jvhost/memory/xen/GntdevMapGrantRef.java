package io.jvhost.memory.xen;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Flyweight over Linux's {@code struct ioctl_gntdev_map_grant_ref} (include/uapi/xen/gntdev.h), the argument of
 * {@code IOCTL_GNTDEV_MAP_GRANT_REF}: make {@code count} grants mappable; the kernel answers {@code index}, the
 * offset to pass to {@code mmap} of the gntdev descriptor.
 * <pre>
 *  0           4         8                 16                            16 + 8 * count
 *  +-----------+---------+-----------------+------------+---------+-----
 *  | count u32 | pad u32 | index u64 (out) | domid u32  | ref u32 | ... one {domid, ref} per page
 *  +-----------+---------+-----------------+------------+---------+-----
 * </pre>
 * Host byte order. The ioctl number encodes the size with one reference (24), whatever {@code count} is: the kernel
 * reads {@code count} and then copies that many references.
 */
public final class GntdevMapGrantRef
{
    public static final int HEADER = 16;
    public static final int REF_SIZE = 8;
    /** {@code _IOC(_IOC_NONE, 'G', 0, sizeof(struct ioctl_gntdev_map_grant_ref))}, the struct with one ref: 24. */
    public static final long IOCTL_GNTDEV_MAP_GRANT_REF = XenIoctl.ioc('G', 0, HEADER + REF_SIZE);

    static final int COUNT = 0;
    static final int PAD = 4;
    static final int INDEX = 8;

    private MemorySegment s;

    /**
     * @return bytes of a request for {@code count} references.
     */
    public static long size(final int count)
    {
        return HEADER + (long)REF_SIZE * count;
    }

    public GntdevMapGrantRef wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    /**
     * Asks for {@code count} consecutive references {@code firstRef, firstRef + 1, ...} of domain {@code domid}.
     */
    public GntdevMapGrantRef setConsecutive(final int domid, final int firstRef, final int count)
    {
        s.set(JAVA_INT_UNALIGNED, COUNT, count);
        s.set(JAVA_INT_UNALIGNED, PAD, 0);
        s.set(JAVA_LONG_UNALIGNED, INDEX, 0L);
        for (int i = 0; i < count; i++)
        {
            s.set(JAVA_INT_UNALIGNED, HEADER + (long)REF_SIZE * i, domid);
            s.set(JAVA_INT_UNALIGNED, HEADER + (long)REF_SIZE * i + 4, firstRef + i);
        }
        return this;
    }

    public int count()
    {
        return s.get(JAVA_INT_UNALIGNED, COUNT);
    }

    public long index()
    {
        return s.get(JAVA_LONG_UNALIGNED, INDEX);
    }

    public GntdevMapGrantRef index(final long index)
    {
        s.set(JAVA_LONG_UNALIGNED, INDEX, index);
        return this;
    }

    public int domid(final int i)
    {
        return s.get(JAVA_INT_UNALIGNED, HEADER + (long)REF_SIZE * i);
    }

    public int ref(final int i)
    {
        return s.get(JAVA_INT_UNALIGNED, HEADER + (long)REF_SIZE * i + 4);
    }
}
