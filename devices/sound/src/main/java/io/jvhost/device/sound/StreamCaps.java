package io.jvhost.device.sound;

/**
 * What one PCM stream accepts (its PCM_INFO): direction, sample formats and frame rates (bit masks of the spec's
 * codes), channel range, and the stream features offered. Checks a SET_PARAMS against it.
 *
 * @param direction   {@link Snd#D_OUTPUT} or {@link Snd#D_INPUT}.
 * @param formats     bit {@code f} set when format code {@code f} is accepted.
 * @param rates       bit {@code r} set when rate code {@code r} is accepted.
 * @param channelsMin at least 1.
 * @param channelsMax at most 255 and not below {@code channelsMin}.
 * @param features    stream feature bits offered ({@link Snd#PCM_F_EVT_XRUNS}).
 */
public record StreamCaps(int direction, long formats, long rates, int channelsMin, int channelsMax, int features)
{
    /** The largest buffer a stream may ask for: 4 MiB (Linux's virtio driver asks for far less). */
    public static final long MAX_BUFFER_BYTES = 4L << 20;

    public StreamCaps
    {
        if (direction != Snd.D_OUTPUT && direction != Snd.D_INPUT)
        {
            throw new IllegalArgumentException("direction must be 0 (output) or 1 (input), got " + direction);
        }
        if (channelsMin < 1 || channelsMax < channelsMin || channelsMax > 255)
        {
            throw new IllegalArgumentException("channels " + channelsMin + ".." + channelsMax + " out of 1..255");
        }
        for (int f = 0; f < 64; f++)
        {
            if ((formats & 1L << f) != 0 && Snd.sampleBytes(f) == 0)
            {
                throw new IllegalArgumentException("format " + f + " is not a linear PCM format this device serves");
            }
        }
        for (int r = 0; r < 64; r++)
        {
            if ((rates & 1L << r) != 0 && Snd.rateHz(r) == 0)
            {
                throw new IllegalArgumentException("rate code " + r + " is not defined by the spec");
            }
        }
    }

    /** vhost-device-sound's offer: U8, S16, S24, S32; 8 to 48 kHz; 1 to 6 channels. */
    public static StreamCaps rustVmm(final int direction)
    {
        return new StreamCaps(direction, 1L << Snd.FMT_U8 | 1L << Snd.FMT_S16 | 1L << Snd.FMT_S24 | 1L << Snd.FMT_S32,
            1L << Snd.RATE_8000 | 1L << Snd.RATE_11025 | 1L << Snd.RATE_16000 | 1L << Snd.RATE_22050
                | 1L << Snd.RATE_32000 | 1L << Snd.RATE_44100 | 1L << Snd.RATE_48000, 1, 6,
            1 << Snd.PCM_F_EVT_XRUNS);
    }

    /**
     * @return why {@code p} does not fit this stream (a sentence with the offending values), or null when it does.
     */
    public String check(final PcmParams p)
    {
        if (p.format() >= 64 || (formats & 1L << p.format()) == 0)
        {
            return "format " + p.format() + " not offered (formats mask 0x" + Long.toHexString(formats) + ")";
        }
        if (p.rate() >= 64 || (rates & 1L << p.rate()) == 0)
        {
            return "rate code " + p.rate() + " not offered (rates mask 0x" + Long.toHexString(rates) + ")";
        }
        if (p.channels() < channelsMin || p.channels() > channelsMax)
        {
            return "channels " + p.channels() + " outside " + channelsMin + ".." + channelsMax;
        }
        if ((p.features() & ~features) != 0)
        {
            return "features 0x" + Integer.toHexString(p.features()) + " not offered (0x"
                + Integer.toHexString(features) + ")";
        }
        final long frame = p.frameBytes();
        if (p.periodBytes() < frame || p.periodBytes() % frame != 0)
        {
            return "period_bytes " + p.periodBytes() + " is not a positive multiple of the frame (" + frame + " bytes)";
        }
        if (p.bufferBytes() < p.periodBytes() || p.bufferBytes() % frame != 0 || p.bufferBytes() > MAX_BUFFER_BYTES)
        {
            return "buffer_bytes " + p.bufferBytes() + " must be a multiple of the frame, at least period_bytes "
                + p.periodBytes() + " and at most " + MAX_BUFFER_BYTES;
        }
        return null;
    }
}
