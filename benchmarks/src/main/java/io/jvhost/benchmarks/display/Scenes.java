package io.jvhost.benchmarks.display;

import java.util.SplittableRandom;

/**
 * DisplayBench's pictures, as {@code 0x00RRGGBB} ints, all deterministic: noise (incompressible), a desktop (flat
 * background, two windows of text-like glyphs, a gradient, a taskbar) and a full-screen text console. Each takes a
 * variant so consecutive frames differ the way a guest's do (new noise, scrolled text).
 */
final class Scenes
{
    /** A console font's cell (Linux fbcon's 8×16). */
    static final int GLYPH_WIDTH = 8;
    static final int GLYPH_HEIGHT = 16;

    private Scenes()
    {
    }

    static int[] noise(final int width, final int height, final int variant)
    {
        final SplittableRandom random = new SplittableRandom(0x6E6F697365L + variant);
        final int[] p = new int[width * height];
        for (int i = 0; i < p.length; i++)
        {
            p[i] = random.nextInt() & 0xFF_FFFF;
        }
        return p;
    }

    /**
     * A desktop: flat background, a terminal window, a window holding a gradient and a page of dark-on-white text,
     * and a taskbar with a few icons.
     */
    static int[] desktop(final int width, final int height, final int variant)
    {
        final int[] p = new int[width * height];
        fill(p, width, 0, 0, width, height, 0x3B6EA5);
        // Terminal window, upper left.
        final int tx = width / 24;
        final int ty = height / 18;
        final int tw = width / 2;
        final int th = height * 5 / 8;
        window(p, width, tx, ty, tw, th, variant);
        fill(p, width, tx, ty + 28, tw, th - 28, 0x101010);
        text(p, width, tx + 8, ty + 36, tw - 16, th - 44, 0xC0C0C0, 0x101010, variant, 0.25);
        // Document window, overlapping it: a gradient banner above a page of text.
        final int dx = width * 3 / 8;
        final int dy = height / 5;
        final int dw = width * 7 / 12;
        final int dh = height * 2 / 3;
        window(p, width, dx, dy, dw, dh, variant + 1);
        final int banner = dh / 3;
        for (int y = 0; y < banner; y++)
        {
            for (int x = 0; x < dw; x++)
            {
                final int r = 40 + 200 * x / dw;
                final int g = 60 + 150 * y / banner;
                final int b = 200 - 120 * x / dw;
                p[(dy + 28 + y) * width + dx + x] = r << 16 | g << 8 | b;
            }
        }
        fill(p, width, dx, dy + 28 + banner, dw, dh - 28 - banner, 0xFFFFFF);
        text(p, width, dx + 24, dy + 40 + banner, dw - 48, dh - 52 - banner, 0x202020, 0xFFFFFF, variant + 7, 0.5);
        // Taskbar with icons and a clock.
        final int bar = Math.min(40, height / 10);
        fill(p, width, 0, height - bar, width, bar, 0x202225);
        final int[] icons = {0xE95420, 0x4E9A06, 0x3465A4, 0xC4A000, 0x75507B};
        for (int i = 0; i < icons.length; i++)
        {
            fill(p, width, 8 + i * (bar + 4), height - bar + 6, bar - 12, bar - 12, icons[i]);
        }
        text(p, width, width - 100, height - bar + 12, 80, GLYPH_HEIGHT, 0xFFFFFF, 0x202225, variant, 0);
        return p;
    }

    /**
     * A text console: light grey glyphs on black over the whole screen, as fbcon draws it.
     */
    static int[] console(final int width, final int height, final int variant)
    {
        final int[] p = new int[width * height];
        text(p, width, 0, 0, width, height, 0xAAAAAA, 0x000000, variant, 0.3);
        return p;
    }

    private static void window(final int[] p, final int stride, final int x, final int y, final int w, final int h,
        final int variant)
    {
        fill(p, stride, x - 1, y - 1, w + 2, h + 2, 0x505050);
        fill(p, stride, x, y, w, 28, 0xDADADA);
        text(p, stride, x + 10, y + 6, Math.min(w / 3, 320), GLYPH_HEIGHT, 0x303030, 0xDADADA, variant + 3, 0);
        fill(p, stride, x + w - 24, y + 7, 14, 14, 0xE05050);
    }

    private static void fill(final int[] p, final int stride, final int x, final int y, final int w, final int h,
        final int rgb)
    {
        final int rows = p.length / stride;
        for (int row = Math.max(0, y); row < Math.min(rows, y + h); row++)
        {
            for (int col = Math.max(0, x); col < Math.min(stride, x + w); col++)
            {
                p[row * stride + col] = rgb;
            }
        }
    }

    /**
     * Lines of text-like glyphs in the rectangle: words of 1 to 9 glyphs, lines of random length ({@code ragged}
     * is the share of a line that may stay empty at its end). The variant shifts the text by a line, like scrolling.
     */
    private static void text(final int[] p, final int stride, final int x, final int y, final int w, final int h,
        final int fg, final int bg, final int variant, final double ragged)
    {
        final int columns = w / GLYPH_WIDTH;
        final int lines = h / GLYPH_HEIGHT;
        for (int line = 0; line < lines; line++)
        {
            final SplittableRandom random = new SplittableRandom(0x74657874L * 31 + line + variant);
            final int length = columns - (int)(random.nextDouble() * ragged * columns);
            int word = 1 + random.nextInt(9);
            for (int col = 0; col < columns; col++)
            {
                final int glyph;
                if (col >= length || word == 0)
                {
                    glyph = -1;
                    word = 1 + random.nextInt(9);
                }
                else
                {
                    glyph = random.nextInt(95);
                    word--;
                }
                glyph(p, stride, x + col * GLYPH_WIDTH, y + line * GLYPH_HEIGHT, glyph, fg, bg);
            }
        }
    }

    /**
     * Draws glyph {@code id} (0..94, or -1 for a space): a fixed 6×10 bit pattern derived from the id, inside an
     * 8×16 cell, like a console font's letters.
     */
    private static void glyph(final int[] p, final int stride, final int x, final int y, final int id, final int fg,
        final int bg)
    {
        long bits = id < 0 ? 0 : mix(id + 1);
        for (int row = 0; row < GLYPH_HEIGHT; row++)
        {
            for (int col = 0; col < GLYPH_WIDTH; col++)
            {
                boolean on = false;
                if (id >= 0 && row >= 3 && row < 13 && col >= 1 && col < 7)
                {
                    on = (bits & 1) != 0;
                    bits = bits >>> 1 | (bits & 1) << 59;
                }
                p[(y + row) * stride + x + col] = on ? fg : bg;
            }
        }
    }

    private static long mix(final long v)
    {
        long z = v * 0x9E37_79B9_7F4A_7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return (z ^ (z >>> 31)) & ((1L << 60) - 1);
    }
}
