package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_requestbuffers} (20 bytes), the payload of REQBUFS.
 * <pre>
 *   0       4      8        12             16      17            20
 *   +-------+------+--------+--------------+-------+-------------+
 *   | count | type | memory | capabilities | flags | reserved[3] |
 *   +-------+------+--------+--------------+-------+-------------+
 * </pre>
 */
public final class RequestBuffers extends Flyweight
{
    public static final int SIZE = 20;

    public int count()
    {
        return u32(0);
    }

    public int type()
    {
        return u32(4);
    }

    public int memory()
    {
        return u32(8);
    }

    public void answer(final int count, final int capabilities)
    {
        u32(0, count);
        u32(12, capabilities);
        zero(16, 4);
    }
}
