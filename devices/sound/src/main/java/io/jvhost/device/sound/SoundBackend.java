package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;

/**
 * Where a sound device's audio goes and comes from. Called on the device's worker thread only; {@link #write} and
 * {@link #read} run once per message in real time and must neither block for long nor allocate.
 */
public interface SoundBackend extends AutoCloseable
{
    /**
     * @return the back-end's name for logs ({@code null}, {@code file}, {@code alsa}).
     */
    String name();

    /**
     * @return what the stream of {@code direction} offers the guest (its PCM_INFO).
     */
    default StreamCaps caps(final int direction)
    {
        return StreamCaps.rustVmm(direction);
    }

    /**
     * PCM_PREPARE: make the host side of stream {@code streamId} ready for {@code params} (checked against
     * {@link #caps}).
     *
     * @return null when ready, else why not (the request is answered {@link Snd#S_IO_ERR}).
     */
    String prepare(int streamId, int direction, PcmParams params);

    /**
     * PCM_START.
     */
    default void start(final int streamId)
    {
    }

    /**
     * PCM_STOP.
     */
    default void stop(final int streamId)
    {
    }

    /**
     * PCM_RELEASE, or the device reset: free the stream's host side.
     */
    default void release(final int streamId)
    {
    }

    /**
     * Plays {@code length} bytes of {@code src} (frames in the prepared format), at their time.
     */
    void write(int streamId, MemorySegment src, long length);

    /**
     * Fills {@code length} bytes of {@code dst} with captured frames (silence when there are none).
     */
    void read(int streamId, MemorySegment dst, long length);

    @Override
    default void close()
    {
    }
}
