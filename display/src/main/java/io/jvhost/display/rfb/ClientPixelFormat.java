package io.jvhost.display.rfb;

/**
 * An RFB PIXEL_FORMAT (RFC 6143 §7.4) and the translation of the server's {@code 0x00RRGGBB} pixels into it. Only
 * true-colour formats of 8, 16 or 32 bits a pixel are accepted; colour maps are refused.
 *
 * @param bitsPerPixel 8, 16 or 32.
 * @param depth        useful bits (informational).
 * @param bigEndian    byte order of multi-byte pixels.
 * @param redMax       largest red value (2^n - 1).
 */
public record ClientPixelFormat(int bitsPerPixel, int depth, boolean bigEndian, int redMax, int greenMax,
    int blueMax, int redShift, int greenShift, int blueShift)
{
    /** Length of PIXEL_FORMAT on the wire. */
    public static final int SIZE = 16;
    /** The server's own format: 32 bits, depth 24, little-endian, R at bit 16, G at 8, B at 0 (B,G,R,X in memory). */
    public static final ClientPixelFormat SERVER = new ClientPixelFormat(32, 24, false, 255, 255, 255, 16, 8, 0);

    /**
     * Validates a format a client asked for.
     *
     * @throws IllegalArgumentException naming what is wrong.
     */
    public ClientPixelFormat
    {
        if (bitsPerPixel != 8 && bitsPerPixel != 16 && bitsPerPixel != 32)
        {
            throw new IllegalArgumentException("bits-per-pixel must be 8, 16 or 32, got " + bitsPerPixel);
        }
        checkChannel("red", redMax, redShift, bitsPerPixel);
        checkChannel("green", greenMax, greenShift, bitsPerPixel);
        checkChannel("blue", blueMax, blueShift, bitsPerPixel);
    }

    private static void checkChannel(final String name, final int max, final int shift, final int bits)
    {
        if (max <= 0 || max > 0xFFFF || (max & (max + 1)) != 0)
        {
            throw new IllegalArgumentException(name + "-max must be 2^n-1 in 1..65535, got " + max);
        }
        if (shift < 0 || shift >= bits || (long)max << shift > (bits == 32 ? 0xFFFF_FFFFL : (1L << bits) - 1))
        {
            throw new IllegalArgumentException(name + "-shift " + shift + " with max " + max + " does not fit "
                + bits + " bits");
        }
    }

    /**
     * Reads a PIXEL_FORMAT from 16 bytes at {@code offset}.
     *
     * @throws IllegalArgumentException for a colour-map or otherwise unsupported format.
     */
    public static ClientPixelFormat read(final byte[] b, final int offset)
    {
        final int bpp = b[offset] & 0xFF;
        final int depth = b[offset + 1] & 0xFF;
        final boolean big = b[offset + 2] != 0;
        final boolean trueColour = b[offset + 3] != 0;
        if (!trueColour)
        {
            throw new IllegalArgumentException("colour-map pixel formats are not supported (true-colour-flag 0, "
                + bpp + " bits a pixel)");
        }
        return new ClientPixelFormat(bpp, depth, big, u16(b, offset + 4), u16(b, offset + 6), u16(b, offset + 8),
            b[offset + 10] & 0xFF, b[offset + 11] & 0xFF, b[offset + 12] & 0xFF);
    }

    /**
     * Writes this format as PIXEL_FORMAT (16 bytes).
     */
    public void write(final ByteSink out)
    {
        out.u8(bitsPerPixel);
        out.u8(depth);
        out.u8(bigEndian ? 1 : 0);
        out.u8(1);
        out.u16(redMax);
        out.u16(greenMax);
        out.u16(blueMax);
        out.u8(redShift);
        out.u8(greenShift);
        out.u8(blueShift);
        out.u8(0);
        out.u8(0);
        out.u8(0);
    }

    private static int u16(final byte[] b, final int offset)
    {
        return (b[offset] & 0xFF) << 8 | b[offset + 1] & 0xFF;
    }

    /**
     * @return bytes per PIXEL.
     */
    public int bytesPerPixel()
    {
        return bitsPerPixel / 8;
    }

    /**
     * @return bytes per CPIXEL (ZRLE): 3 when a 32-bit true-colour pixel of depth at most 24 has all its colour bits
     *     in its least or most significant three bytes, else {@link #bytesPerPixel()}.
     */
    public int cpixelBytes()
    {
        if (bitsPerPixel == 32 && depth <= 24 && (fitsLow() || fitsHigh()))
        {
            return 3;
        }
        return bytesPerPixel();
    }

    private long colourBits()
    {
        return (long)redMax << redShift | (long)greenMax << greenShift | (long)blueMax << blueShift;
    }

    private boolean fitsLow()
    {
        return (colourBits() & 0xFF00_0000L) == 0;
    }

    private boolean fitsHigh()
    {
        return (colourBits() & 0xFFL) == 0;
    }

    /**
     * @return {@code rgb} ({@code 0x00RRGGBB}; the top byte is ignored) as a pixel value of this format.
     */
    public int translate(final int rgb)
    {
        final int r = rgb >>> 16 & 0xFF;
        final int g = rgb >>> 8 & 0xFF;
        final int b = rgb & 0xFF;
        return scale(r, redMax) << redShift | scale(g, greenMax) << greenShift | scale(b, blueMax) << blueShift;
    }

    private static int scale(final int value, final int max)
    {
        return max == 255 ? value : (value * max + 127) / 255;
    }

    /**
     * Appends a translated pixel value as PIXEL.
     */
    public void writePixel(final ByteSink out, final int value)
    {
        if (bigEndian)
        {
            out.big(value, bytesPerPixel());
        }
        else
        {
            out.little(value, bytesPerPixel());
        }
    }

    /**
     * Appends a translated pixel value as CPIXEL.
     */
    public void writeCPixel(final ByteSink out, final int value)
    {
        final int bytes = cpixelBytes();
        if (bytes != 3)
        {
            writePixel(out, value);
            return;
        }
        // The three bytes that hold the colour, in the pixel's byte order.
        final int v = fitsLow() ? value : value >>> 8;
        if (bigEndian)
        {
            out.big(v, 3);
        }
        else
        {
            out.little(v, 3);
        }
    }

    /**
     * Appends {@code count} pixels of {@code rgb} from {@code offset} as PIXELs (Raw encoding).
     */
    public void writePixels(final ByteSink out, final int[] rgb, final int offset, final int count)
    {
        final int bpp = bytesPerPixel();
        out.ensure(count * bpp);
        final byte[] a = out.array();
        int at = out.length();
        if (bpp == 4 && !bigEndian)
        {
            for (int i = offset, end = offset + count; i < end; i++)
            {
                final int v = translate(rgb[i]);
                a[at] = (byte)v;
                a[at + 1] = (byte)(v >>> 8);
                a[at + 2] = (byte)(v >>> 16);
                a[at + 3] = (byte)(v >>> 24);
                at += 4;
            }
        }
        else
        {
            for (int i = offset, end = offset + count; i < end; i++)
            {
                final int v = translate(rgb[i]);
                for (int k = 0; k < bpp; k++)
                {
                    a[at + k] = (byte)(v >>> (8 * (bigEndian ? bpp - 1 - k : k)));
                }
                at += bpp;
            }
        }
        out.advance(at - out.length());
    }
}
