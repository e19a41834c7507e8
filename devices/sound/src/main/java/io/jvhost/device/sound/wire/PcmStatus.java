package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_pcm_status}, the device-writable tail of every I/O message on the tx and rx queues.
 * <pre>
 *  0            4                  8
 *  +------------+------------------+
 *  | status u32 | latency_bytes u32|
 *  +------------+------------------+
 * </pre>
 * Little-endian.
 */
public final class PcmStatus
{
    public static final int SIZE = 8;

    private MemorySegment s;

    public PcmStatus wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public PcmStatus set(final int status, final int latencyBytes)
    {
        s.set(Le.U32, 0, status);
        s.set(Le.U32, 4, latencyBytes);
        return this;
    }

    public int status()
    {
        return s.get(Le.U32, 0);
    }

    public long latencyBytes()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 4));
    }
}
