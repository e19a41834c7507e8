package io.jvhost.device.sound.wire;

import java.lang.foreign.MemorySegment;

/**
 * Flyweight over {@code virtio_snd_pcm_hdr}, the whole request of PCM_PREPARE, PCM_RELEASE, PCM_START and PCM_STOP and
 * the start of PCM_SET_PARAMS.
 * <pre>
 *  0          4              8
 *  +----------+--------------+
 *  | code u32 | stream_id u32|
 *  +----------+--------------+
 * </pre>
 * Little-endian.
 */
public final class PcmHeader
{
    public static final int SIZE = 8;

    private MemorySegment s;

    public PcmHeader wrap(final MemorySegment segment)
    {
        this.s = segment;
        return this;
    }

    public int code()
    {
        return s.get(Le.U32, 0);
    }

    public long streamId()
    {
        return Integer.toUnsignedLong(s.get(Le.U32, 4));
    }

    public PcmHeader set(final int code, final int streamId)
    {
        s.set(Le.U32, 0, code);
        s.set(Le.U32, 4, streamId);
        return this;
    }
}
