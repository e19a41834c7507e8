package io.jvhost.device.media.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct v4l2_buffer} in its 64-bit layout (88 bytes), the payload of QUERYBUF and QBUF and the body of a
 * DQBUF event.
 * <pre>
 *   0       4      8           12     16     20    24                  40                56         60       64
 *   +-------+------+-----------+------+------+-----+-------------------+-----------------+----------+--------+
 *   | index | type | bytesused | flags| field| pad | timestamp         | timecode        | sequence | memory |
 *   |       |      |           |      |      |     | le64 sec,le64 usec| (16 bytes)      |          |        |
 *   +-------+------+-----------+------+------+-----+-------------------+-----------------+----------+--------+
 *   64                       72       76          80                  84     88
 *   +------------------------+--------+-----------+-------------------+------+
 *   | m: offset/userptr/     | length | reserved2 | request_fd        | pad  |
 *   | planes/fd (8 bytes)    |        |           |                   |      |
 *   +------------------------+--------+-----------+-------------------+------+
 * </pre>
 */
public final class V4l2Buffer extends Flyweight
{
    public static final int SIZE = 88;

    public int index()
    {
        return u32(0);
    }

    public int type()
    {
        return u32(4);
    }

    public int flags()
    {
        return u32(12);
    }

    public int bytesused()
    {
        return u32(8);
    }

    public int field()
    {
        return u32(16);
    }

    public long timestampSeconds()
    {
        return u64(24);
    }

    public long timestampMicros()
    {
        return u64(32);
    }

    public int sequence()
    {
        return u32(56);
    }

    public int memory()
    {
        return u32(60);
    }

    public long userptr()
    {
        return u64(64);
    }

    public int length()
    {
        return u32(72);
    }

    public V4l2Buffer clear()
    {
        zero(0, SIZE);
        return this;
    }

    public V4l2Buffer index(final int value)
    {
        u32(0, value);
        return this;
    }

    public V4l2Buffer type(final int value)
    {
        u32(4, value);
        return this;
    }

    public V4l2Buffer bytesused(final int value)
    {
        u32(8, value);
        return this;
    }

    public V4l2Buffer flags(final int value)
    {
        u32(12, value);
        return this;
    }

    public V4l2Buffer field(final int value)
    {
        u32(16, value);
        return this;
    }

    public V4l2Buffer timestamp(final long seconds, final long microseconds)
    {
        u64(24, seconds);
        u64(32, microseconds);
        return this;
    }

    public V4l2Buffer sequence(final int value)
    {
        u32(56, value);
        return this;
    }

    public V4l2Buffer memory(final int value)
    {
        u32(60, value);
        return this;
    }

    public V4l2Buffer userptr(final long value)
    {
        u64(64, value);
        return this;
    }

    public V4l2Buffer length(final int value)
    {
        u32(72, value);
        return this;
    }
}
