package io.jvhost.display;

import java.util.Random;

/**
 * Test pictures as {@code 0x00RRGGBB} ints: noise with a solid block and a few-colour stripe pattern, so ZRLE's raw,
 * solid, palette and RLE tiles all occur.
 */
final class Pictures
{
    private Pictures()
    {
    }

    static int[] mixed(final int width, final int height, final long seed)
    {
        final Random random = new Random(seed);
        final int[] p = new int[width * height];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final int v;
                if (x < 70 && y < 70)
                {
                    v = 0x336699;                                   // solid tiles
                }
                else if (y >= 70 && y < 140 && x < 130)
                {
                    v = (x / 3 + y / 5) % 3 == 0 ? 0xFFFFFF : (x / 7) % 5 * 0x101010; // few colours, runs
                }
                else if (x >= 130 && y < 70)
                {
                    v = PALETTE[random.nextInt(PALETTE.length)];    // palette, no runs
                }
                else
                {
                    v = random.nextInt(0x100_0000);                 // noise: raw
                }
                p[y * width + x] = v;
            }
        }
        return p;
    }

    private static final int[] PALETTE = {0x000000, 0xFF0000, 0x00FF00, 0x0000FF, 0xFFFF00, 0x00FFFF, 0xFF00FF,
        0x808080, 0x123456, 0x654321, 0xABCDEF, 0xFEDCBA, 0x010203, 0x0A0B0C, 0x111111, 0x222222, 0x333333, 0x444444,
        0x555555, 0x666666};

    static int[] noise(final int width, final int height, final long seed)
    {
        final Random random = new Random(seed);
        final int[] p = new int[width * height];
        for (int i = 0; i < p.length; i++)
        {
            p[i] = random.nextInt(0x100_0000);
        }
        return p;
    }
}
