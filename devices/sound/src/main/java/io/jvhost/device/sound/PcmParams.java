package io.jvhost.device.sound;

/**
 * A stream's parameters from PCM_SET_PARAMS.
 *
 * @param bufferBytes the size of the driver's ring buffer.
 * @param periodBytes the size of one period (one I/O message, as Linux sends them).
 * @param features    stream feature bits the driver enabled.
 * @param channels    channels per frame.
 * @param format      sample format code ({@link Snd#FMT_S16}, ...).
 * @param rate        frame rate code ({@link Snd#RATE_48000}, ...).
 */
public record PcmParams(long bufferBytes, long periodBytes, int features, int channels, int format, int rate)
{
    /**
     * @return bytes per frame (0 for a format without a known width).
     */
    public int frameBytes()
    {
        return Snd.sampleBytes(format) * channels;
    }

    /**
     * @return bytes per second.
     */
    public long byteRate()
    {
        return (long)frameBytes() * Snd.rateHz(rate);
    }

    /**
     * @return frames per second.
     */
    public int rateHz()
    {
        return Snd.rateHz(rate);
    }

    @Override
    public String toString()
    {
        return channels + " ch, format " + format + ", " + rateHz() + " Hz, period " + periodBytes + " B, buffer "
            + bufferBytes + " B" + ((features & 1 << Snd.PCM_F_EVT_XRUNS) != 0 ? ", xrun events" : "");
    }
}
