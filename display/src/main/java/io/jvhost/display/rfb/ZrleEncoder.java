package io.jvhost.display.rfb;

/**
 * ZRLE (RFC 6143 §7.7.6): the rectangle in 64×64 tiles, left to right and top to bottom, each tile encoded the
 * smallest way of solid, packed palette (2-16 colours), plain RLE, palette RLE (up to 127 colours) or raw CPIXELs, and
 * the whole written through the client's persistent ZRLE zlib stream.
 */
final class ZrleEncoder implements AutoCloseable
{
    static final int TILE = 64;
    private static final int MAX_PALETTE = 127;
    private static final int SUB_RAW = 0;
    private static final int SUB_SOLID = 1;
    private static final int SUB_PLAIN_RLE = 128;

    private final ZlibStream zlib;
    /** A rectangle's tiles before compression: as large as the rectangle's pixels, reserved like a viewer's. */
    private final ByteSink tiles;
    private final int[] tile = new int[TILE * TILE];
    private final int[] palette = new int[MAX_PALETTE];
    private final int[] paletteKeys = new int[256];
    private final byte[] paletteSlots = new byte[256];
    private int paletteSize;

    ZrleEncoder(final int level)
    {
        zlib = new ZlibStream(level);
        tiles = new ByteSink(64 * 1024);
    }

    /**
     * @param budget what the tile buffer is reserved from (the viewer's device's).
     * @throws io.jvhost.device.MemoryBudget.ExceededException when it cannot hold the initial buffer.
     */
    ZrleEncoder(final int level, final io.jvhost.device.MemoryBudget budget)
    {
        tiles = new ByteSink(64 * 1024, budget);
        zlib = new ZlibStream(level);
    }

    /**
     * Appends the ZRLE data (u32 length + zlib data) of a {@code width×height} rectangle whose {@code 0x00RRGGBB}
     * pixels start at {@code offset} in {@code rgb}, row by row.
     */
    void encode(final ClientPixelFormat format, final int[] rgb, final int offset, final int width, final int height,
        final ByteSink out)
    {
        tiles.reset();
        for (int ty = 0; ty < height; ty += TILE)
        {
            final int th = Math.min(TILE, height - ty);
            for (int tx = 0; tx < width; tx += TILE)
            {
                final int tw = Math.min(TILE, width - tx);
                for (int row = 0; row < th; row++)
                {
                    final int from = offset + (ty + row) * width + tx;
                    for (int col = 0; col < tw; col++)
                    {
                        tile[row * tw + col] = format.translate(rgb[from + col]);
                    }
                }
                encodeTile(format, tw, th);
            }
        }
        zlib.compress(tiles, out);
    }

    private void encodeTile(final ClientPixelFormat format, final int tw, final int th)
    {
        final int n = tw * th;
        final int cp = format.cpixelBytes();
        // One pass: the palette (up to 127 colours, then given up) and the runs.
        clearPalette();
        boolean paletteFull = false;
        int runs = 0;
        long plainRleBytes = 0;
        long paletteRleBytes = 0;
        int i = 0;
        while (i < n)
        {
            final int v = tile[i];
            int j = i + 1;
            while (j < n && tile[j] == v)
            {
                j++;
            }
            final int length = j - i;
            runs++;
            plainRleBytes += cp + runLengthBytes(length);
            paletteRleBytes += length == 1 ? 1 : 1 + runLengthBytes(length);
            if (!paletteFull && paletteIndex(v) < 0 && !paletteAdd(v))
            {
                paletteFull = true;
            }
            i = j;
        }
        if (!paletteFull && paletteSize == 1)
        {
            tiles.u8(SUB_SOLID);
            format.writeCPixel(tiles, tile[0]);
            return;
        }
        final long raw = (long)n * cp;
        long best = raw;
        int choice = SUB_RAW;
        if (plainRleBytes < best)
        {
            best = plainRleBytes;
            choice = SUB_PLAIN_RLE;
        }
        if (!paletteFull)
        {
            final long paletteRle = (long)paletteSize * cp + paletteRleBytes;
            if (paletteRle < best)
            {
                best = paletteRle;
                choice = 128 + paletteSize;
            }
            if (paletteSize <= 16)
            {
                final int bits = paletteSize <= 2 ? 1 : paletteSize <= 4 ? 2 : 4;
                final long packed = (long)paletteSize * cp + (long)th * ((tw * bits + 7) / 8);
                if (packed <= best)
                {
                    best = packed;
                    choice = paletteSize;
                }
            }
        }
        if (choice == SUB_RAW)
        {
            tiles.u8(SUB_RAW);
            for (int k = 0; k < n; k++)
            {
                format.writeCPixel(tiles, tile[k]);
            }
        }
        else if (choice == SUB_PLAIN_RLE)
        {
            tiles.u8(SUB_PLAIN_RLE);
            forEachRun(n, (value, length) ->
            {
                format.writeCPixel(tiles, value);
                writeRunLength(length);
            });
        }
        else if (choice > 128)
        {
            tiles.u8(choice);
            writePalette(format);
            forEachRun(n, (value, length) ->
            {
                final int index = paletteIndex(value);
                if (length == 1)
                {
                    tiles.u8(index);
                }
                else
                {
                    tiles.u8(index | 128);
                    writeRunLength(length);
                }
            });
        }
        else
        {
            tiles.u8(choice);
            writePalette(format);
            final int bits = paletteSize <= 2 ? 1 : paletteSize <= 4 ? 2 : 4;
            for (int row = 0; row < th; row++)
            {
                int acc = 0;
                int filled = 0;
                for (int col = 0; col < tw; col++)
                {
                    acc = acc << bits | paletteIndex(tile[row * tw + col]);
                    filled += bits;
                    if (filled == 8)
                    {
                        tiles.u8(acc);
                        acc = 0;
                        filled = 0;
                    }
                }
                if (filled > 0)
                {
                    tiles.u8(acc << (8 - filled));
                }
            }
        }
    }

    private interface RunConsumer
    {
        void run(int value, int length);
    }

    private void forEachRun(final int n, final RunConsumer consumer)
    {
        int i = 0;
        while (i < n)
        {
            final int v = tile[i];
            int j = i + 1;
            while (j < n && tile[j] == v)
            {
                j++;
            }
            consumer.run(v, j - i);
            i = j;
        }
    }

    private static int runLengthBytes(final int length)
    {
        return (length - 1) / 255 + 1;
    }

    private void writeRunLength(final int length)
    {
        int rest = length - 1;
        while (rest >= 255)
        {
            tiles.u8(255);
            rest -= 255;
        }
        tiles.u8(rest);
    }

    private void writePalette(final ClientPixelFormat format)
    {
        for (int k = 0; k < paletteSize; k++)
        {
            format.writeCPixel(tiles, palette[k]);
        }
    }

    // A 256-slot open-addressed map from pixel value to palette index (slot value 0 = empty, else index + 1).

    private void clearPalette()
    {
        java.util.Arrays.fill(paletteSlots, (byte)0);
        paletteSize = 0;
    }

    private static int hash(final int v)
    {
        final int h = v * 0x9E37_79B9;
        return h >>> 24;
    }

    private int paletteIndex(final int v)
    {
        int slot = hash(v);
        while (paletteSlots[slot] != 0)
        {
            if (paletteKeys[slot] == v)
            {
                return (paletteSlots[slot] & 0xFF) - 1;
            }
            slot = (slot + 1) & 255;
        }
        return -1;
    }

    private boolean paletteAdd(final int v)
    {
        if (paletteSize == MAX_PALETTE)
        {
            return false;
        }
        int slot = hash(v);
        while (paletteSlots[slot] != 0)
        {
            slot = (slot + 1) & 255;
        }
        paletteKeys[slot] = v;
        paletteSlots[slot] = (byte)(paletteSize + 1);
        palette[paletteSize++] = v;
        return true;
    }

    @Override
    public void close()
    {
        zlib.close();
        tiles.release();
    }
}
