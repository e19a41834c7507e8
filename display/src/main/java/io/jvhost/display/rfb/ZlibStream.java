package io.jvhost.display.rfb;

import java.util.zip.Deflater;

/**
 * One client's persistent zlib stream (RFC 6143 §7.7.3, §7.7.6): every rectangle's data is compressed with the same
 * {@link Deflater} and ended with a SYNC_FLUSH, so the client inflates it at once and the dictionary carries over from
 * rectangle to rectangle. Zlib and ZRLE each have their own stream.
 */
final class ZlibStream implements AutoCloseable
{
    private final Deflater deflater;
    private final byte[] chunk = new byte[64 * 1024];

    /**
     * @param level zlib level 0..9.
     */
    ZlibStream(final int level)
    {
        deflater = new Deflater(level);
    }

    /**
     * Appends to {@code out} a u32 length and the compressed {@code data}.
     */
    void compress(final ByteSink data, final ByteSink out)
    {
        final int lengthAt = out.length();
        out.u32(0);
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
        out.putU32(lengthAt, out.length() - lengthAt - 4);
    }

    @Override
    public void close()
    {
        deflater.end();
    }
}
