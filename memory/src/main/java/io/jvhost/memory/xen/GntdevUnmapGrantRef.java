package io.jvhost.memory.xen;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Flyweight over Linux's {@code struct ioctl_gntdev_unmap_grant_ref}, the argument of
 * {@code IOCTL_GNTDEV_UNMAP_GRANT_REF} (after {@code munmap} of the range): forget the grants mapped at
 * {@code index}.
 * <pre>
 *  0                 8           12        16
 *  +-----------------+-----------+---------+
 *  | index u64       | count u32 | pad u32 |
 *  +-----------------+-----------+---------+
 * </pre>
 * Host byte order.
 */
public final class GntdevUnmapGrantRef
{
    public static final int SIZE = 16;
    /** {@code _IOC(_IOC_NONE, 'G', 1, sizeof(struct ioctl_gntdev_unmap_grant_ref))}. */
    public static final long IOCTL_GNTDEV_UNMAP_GRANT_REF = XenIoctl.ioc('G', 1, SIZE);

    static final int INDEX = 0;
    static final int COUNT = 8;
    static final int PAD = 12;

    private MemorySegment s;

    public GntdevUnmapGrantRef wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public GntdevUnmapGrantRef set(final long index, final int count)
    {
        s.set(JAVA_LONG_UNALIGNED, INDEX, index);
        s.set(JAVA_INT_UNALIGNED, COUNT, count);
        s.set(JAVA_INT_UNALIGNED, PAD, 0);
        return this;
    }

    public long index()
    {
        return s.get(JAVA_LONG_UNALIGNED, INDEX);
    }

    public int count()
    {
        return s.get(JAVA_INT_UNALIGNED, COUNT);
    }
}
