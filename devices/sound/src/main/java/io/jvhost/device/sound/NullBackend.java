package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;

/**
 * {@code --backend null}, as vhost-device-sound's: playback is discarded, capture is silence; the device still paces
 * both in real time.
 */
public final class NullBackend implements SoundBackend
{
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[4096]);

    @Override
    public String name()
    {
        return "null";
    }

    @Override
    public String prepare(final int streamId, final int direction, final PcmParams params)
    {
        return null;
    }

    @Override
    public void write(final int streamId, final MemorySegment src, final long length)
    {
    }

    @Override
    public void read(final int streamId, final MemorySegment dst, final long length)
    {
        for (long off = 0; off < length; off += ZEROS.byteSize())
        {
            MemorySegment.copy(ZEROS, 0, dst, off, Math.min(ZEROS.byteSize(), length - off));
        }
    }
}
