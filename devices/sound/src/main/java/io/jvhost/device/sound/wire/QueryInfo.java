package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_query_info}, the request of JACK_INFO, PCM_INFO and CHMAP_INFO.
 * <pre>
 *  0          4            8          12         16
 *  +----------+------------+----------+----------+
 *  | code u32 | start_id   | count    | size     |
 *  |          | u32        | u32      | u32      |
 *  +----------+------------+----------+----------+
 * </pre>
 * {@code size} is the driver's size of one item; the response is a status header and {@code count} items of that
 * size. Little-endian.
 */
public final class QueryInfo
{
    public static final int SIZE = 16;

    private MemorySegment s;

    public QueryInfo wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public int code()
    {
        return s.get(Le.U32, 0);
    }

    public long startId()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 4));
    }

    public long count()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 8));
    }

    public long size()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 12));
    }

    public QueryInfo set(final int code, final int startId, final int count, final int size)
    {
        s.set(Le.U32, 0, code);
        s.set(Le.U32, 4, startId);
        s.set(Le.U32, 8, count);
        s.set(Le.U32, 12, size);
        return this;
    }
}
