package io.jvhost.display.rfb;

import java.util.zip.Deflater;

/**
 * One client's persistent zlib stream (RFC 6143 §7.7.3, §7.7.6): every rectangle's data is compressed with the same
 * {@link Deflater} and ended with a SYNC_FLUSH, so the client inflates it at once and the dictionary carries over from
 * rectangle to rectangle. Zlib and ZRLE each have their own stream.
 * <p>
 * Deflating what hardly compresses (video, photos, noise) costs a full-HD frame over 100 ms at level 1 and saves
 * little (at most the padding byte of 32-bit pixels), so the stream adapts: a rectangle that shrank by less than a
 * fifth switches it to stored blocks (level 0, about a copy). While storing, every {@value #STORED_PROBE_INTERVAL}th
 * rectangle's first {@value #PROBE_BYTES} bytes are compressed aside, with a scratch deflater at the configured
 * level, to notice when the picture turns compressible. The level only changes between rectangles; a viewer's
 * inflater does not care.
 */
final class ZlibStream implements AutoCloseable
{
    /** Rectangles below this many bytes never change the level: too small to judge. */
    static final int MIN_JUDGED_BYTES = 4096;
    /** While storing, one rectangle in this many is sampled to see whether compressing pays again. */
    static final int STORED_PROBE_INTERVAL = 8;
    /** How much of a rectangle the sample compresses. */
    static final int PROBE_BYTES = 32 * 1024;

    private static final byte[] NO_INPUT = new byte[0];

    private final Deflater deflater;
    /** Compresses samples while the stream stores; created when first needed. */
    private Deflater probe;
    private final byte[] chunk = new byte[64 * 1024];
    private final int level;
    private int currentLevel;
    private int appliedLevel;
    private int storedSinceProbe;

    /**
     * @param level zlib level 0..9.
     */
    ZlibStream(final int level)
    {
        this.level = level;
        this.currentLevel = level;
        this.appliedLevel = level;
        deflater = new Deflater(level);
    }

    /**
     * Appends to {@code out} a u32 length and the compressed {@code data}.
     */
    void compress(final ByteSink data, final ByteSink out)
    {
        final int lengthAt = out.length();
        out.u32(0);
        if (appliedLevel != currentLevel)
        {
            // The Deflater applies a new level to the input it holds at its next call: change it on no input, so
            // this rectangle is compressed at the new level (any bytes the change emits belong to this rectangle).
            deflater.setLevel(currentLevel);
            deflater.setInput(NO_INPUT);
            final int n = deflater.deflate(chunk, 0, chunk.length, Deflater.NO_FLUSH);
            out.bytes(chunk, 0, n);
            appliedLevel = currentLevel;
        }
        deflater.setInput(data.array(), 0, data.length());
        while (true)
        {
            final int n = deflater.deflate(chunk, 0, chunk.length, Deflater.SYNC_FLUSH);
            out.bytes(chunk, 0, n);
            if (n < chunk.length && deflater.needsInput())
            {
                break;
            }
        }
        final int compressed = out.length() - lengthAt - 4;
        out.putU32(lengthAt, compressed);
        adapt(data, compressed);
    }

    private void adapt(final ByteSink data, final int compressed)
    {
        final int input = data.length();
        if (level == 0 || input < MIN_JUDGED_BYTES)
        {
            return;
        }
        if (currentLevel != 0)
        {
            if (10L * compressed > 8L * input)
            {
                setLevel(0);
                storedSinceProbe = 0;
            }
        }
        else if (++storedSinceProbe >= STORED_PROBE_INTERVAL)
        {
            storedSinceProbe = 0;
            final int sample = Math.min(input, PROBE_BYTES);
            if (10L * sampleSize(data.array(), sample) <= 8L * sample)
            {
                setLevel(level);
            }
        }
    }

    private int sampleSize(final byte[] data, final int length)
    {
        if (null == probe)
        {
            probe = new Deflater(level);
        }
        probe.reset();
        probe.setInput(data, 0, length);
        probe.finish();
        int size = 0;
        while (!probe.finished())
        {
            size += probe.deflate(chunk, 0, chunk.length);
        }
        return size;
    }

    private void setLevel(final int next)
    {
        currentLevel = next;
    }

    /**
     * @return the level the next rectangle is compressed at.
     */
    int currentLevel()
    {
        return currentLevel;
    }

    @Override
    public void close()
    {
        deflater.end();
        if (null != probe)
        {
            probe.end();
        }
    }
}
