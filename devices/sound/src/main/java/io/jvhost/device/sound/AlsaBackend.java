package io.jvhost.device.sound;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code --backend alsa}: each stream is an ALSA PCM of the host, opened at PREPARE on {@code --alsa-device}
 * ({@code default} as vhost-device-sound, which with PulseAudio's or PipeWire's ALSA plugin reaches the desktop's sound
 * server) through alsa-lib, called with FFM (no JNI, no Java Sound: Java Sound opens the card's {@code hw} devices
 * directly, bypassing dmix and the sound server, and cannot name an ALSA device such as {@code default} or
 * {@code null}).
 * <p>
 * The device paces the streams; the host PCM is opened non-blocking so the worker never waits on it: playback
 * frames the card has no room for are dropped (counted, logged once per stream), capture frames it has not recorded
 * yet are silence. {@code latency} is two buffers of the guest's, at least 40 ms. Playback starts by itself when its
 * buffer fills; capture is started at PCM_START.
 */
public final class AlsaBackend implements SoundBackend
{
    private static final System.Logger LOG = System.getLogger(AlsaBackend.class.getName());
    private static final int STREAMS = 2;

    private final String device;
    private final AlsaLibrary alsa;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment deviceName;
    private final MemorySegment handleOut;
    private final MemorySegment[] pcm = new MemorySegment[STREAMS];
    private final int[] frameBytes = new int[STREAMS];
    private final long[] dropped = new long[STREAMS];
    private final long[] silent = new long[STREAMS];
    private final long[] failures = new long[STREAMS];

    /**
     * @param device an ALSA PCM name ({@code default}, {@code hw:0,0}, {@code null}, ...).
     * @throws IllegalStateException when alsa-lib cannot be loaded.
     */
    public AlsaBackend(final String device)
    {
        this.device = device;
        this.alsa = AlsaLibrary.load();
        this.deviceName = arena.allocateFrom(device);
        this.handleOut = arena.allocate(ValueLayout.ADDRESS);
    }

    @Override
    public String name()
    {
        return "alsa";
    }

    /**
     * @return playback frames the host PCM had no room for, on stream {@code streamId}.
     */
    public long dropped(final int streamId)
    {
        return dropped[streamId];
    }

    /**
     * @return capture frames the host had not recorded in time (given as silence), on stream {@code streamId}.
     */
    public long silent(final int streamId)
    {
        return silent[streamId];
    }

    @Override
    public String prepare(final int streamId, final int direction, final PcmParams params)
    {
        closeStream(streamId);
        final int format = AlsaLibrary.format(params.format());
        if (format < 0)
        {
            return "format " + params.format() + " has no ALSA equivalent";
        }
        try
        {
            int rc = (int)alsa.open.invokeExact(handleOut, deviceName, direction == Snd.D_OUTPUT
                ? AlsaLibrary.STREAM_PLAYBACK : AlsaLibrary.STREAM_CAPTURE, AlsaLibrary.NONBLOCK);
            if (rc < 0)
            {
                return "snd_pcm_open(\"" + device + "\") failed: " + alsa.error(rc);
            }
            final MemorySegment handle = handleOut.get(ValueLayout.ADDRESS, 0);
            final long latencyUs = Math.max(40_000, 2 * params.bufferBytes() * 1_000_000 / params.byteRate());
            rc = (int)alsa.setParams.invokeExact(handle, format, AlsaLibrary.ACCESS_RW_INTERLEAVED, params.channels(),
                params.rateHz(), 1, (int)Math.min(latencyUs, Integer.MAX_VALUE));
            if (rc < 0)
            {
                final int ignored = (int)alsa.close.invokeExact(handle);
                return "snd_pcm_set_params(\"" + device + "\", " + params + ") failed: " + alsa.error(rc);
            }
            pcm[streamId] = handle;
            frameBytes[streamId] = params.frameBytes();
            LOG.log(Level.INFO, "stream " + streamId + " on ALSA \"" + device + "\": " + params);
            return null;
        }
        catch (final Throwable t)
        {
            return "alsa-lib failed: " + t;
        }
    }

    @Override
    public void start(final int streamId)
    {
        final MemorySegment handle = pcm[streamId];
        if (null == handle)
        {
            return;
        }
        try
        {
            final int ignored = (int)alsa.start.invokeExact(handle);
        }
        catch (final Throwable t)
        {
            LOG.log(Level.WARNING, "stream " + streamId + ": snd_pcm_start failed: " + t);
        }
    }

    @Override
    public void stop(final int streamId)
    {
        final MemorySegment handle = pcm[streamId];
        if (null == handle)
        {
            return;
        }
        try
        {
            final int ignored = (int)alsa.drop.invokeExact(handle);
        }
        catch (final Throwable t)
        {
            LOG.log(Level.WARNING, "stream " + streamId + ": snd_pcm_drop failed: " + t);
        }
    }

    @Override
    public void release(final int streamId)
    {
        closeStream(streamId);
    }

    @Override
    public void write(final int streamId, final MemorySegment src, final long length)
    {
        final MemorySegment handle = pcm[streamId];
        if (null == handle)
        {
            return;
        }
        final int frame = frameBytes[streamId];
        long frames = length / frame;
        long offset = 0;
        int retries = 0;
        try
        {
            while (frames > 0)
            {
                final MemorySegment from = offset == 0 ? src : src.asSlice(offset);
                final long n = (long)alsa.writei.invokeExact(handle, from, frames);
                if (n == AlsaLibrary.EAGAIN)
                {
                    break;
                }
                if (n < 0)
                {
                    final int rc = (int)alsa.recover.invokeExact(handle, (int)n, 1);
                    if (rc < 0 || ++retries > 1)
                    {
                        break;
                    }
                    continue;
                }
                frames -= n;
                offset += n * frame;
            }
        }
        catch (final Throwable t)
        {
            failed(streamId, "snd_pcm_writei", t);
        }
        if (frames > 0 && dropped[streamId]++ == 0)
        {
            LOG.log(Level.WARNING, "stream " + streamId + ": ALSA \"" + device + "\" had no room for " + frames
                + " frames; dropped (logged once)");
        }
    }

    @Override
    public void read(final int streamId, final MemorySegment dst, final long length)
    {
        final MemorySegment handle = pcm[streamId];
        long offset = 0;
        if (null != handle)
        {
            final int frame = frameBytes[streamId];
            long frames = length / frame;
            int retries = 0;
            try
            {
                while (frames > 0)
                {
                    final MemorySegment into = offset == 0 ? dst : dst.asSlice(offset);
                    final long n = (long)alsa.readi.invokeExact(handle, into, frames);
                    if (n == AlsaLibrary.EAGAIN || n == 0)
                    {
                        break;
                    }
                    if (n < 0)
                    {
                        final int rc = (int)alsa.recover.invokeExact(handle, (int)n, 1);
                        if (rc < 0 || ++retries > 1)
                        {
                            break;
                        }
                        continue;
                    }
                    frames -= n;
                    offset += n * frame;
                }
            }
            catch (final Throwable t)
            {
                failed(streamId, "snd_pcm_readi", t);
            }
        }
        if (offset < length)
        {
            if (silent[streamId]++ == 0 && null != handle)
            {
                LOG.log(Level.INFO, "stream " + streamId + ": ALSA \"" + device + "\" had not recorded enough yet;"
                    + " the rest is silence (logged once)");
            }
            dst.asSlice(offset, length - offset).fill((byte)0);
        }
    }

    private void failed(final int streamId, final String call, final Throwable t)
    {
        if (failures[streamId]++ % 1000 == 0)
        {
            LOG.log(Level.WARNING, "stream " + streamId + ": " + call + " failed: " + t + " (" + failures[streamId]
                + " so far)");
        }
    }

    private void closeStream(final int streamId)
    {
        final MemorySegment handle = pcm[streamId];
        if (null == handle)
        {
            return;
        }
        pcm[streamId] = null;
        try
        {
            final int ignored = (int)alsa.close.invokeExact(handle);
        }
        catch (final Throwable t)
        {
            LOG.log(Level.WARNING, "stream " + streamId + ": snd_pcm_close failed: " + t);
        }
    }

    @Override
    public void close()
    {
        for (int i = 0; i < STREAMS; i++)
        {
            closeStream(i);
        }
        arena.close();
    }
}
