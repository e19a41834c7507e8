package io.jvhost.e2e.support;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;

import javax.imageio.ImageIO;

/**
 * The 3D guest's test picture (picture3d.h, drawn by gl3d and kms3d) and the check of a displayed copy of it: red
 * exactly where x/W &lt; y/H for a pixel centre (x, y) in screen orientation, the clear colour (0.25, 0.5, 1.0)
 * elsewhere. The triangle is asymmetric, so a frame shown upside down or mirrored fails. Pixels whose centre lies
 * within {@link #MARGIN} pixels of the diagonal are skipped (rasterisation may round them either way), and each
 * channel may be off by {@link #TOLERANCE}.
 */
public final class Picture3d
{
    /** The triangle's colour, R, G, B. */
    public static final int[] RED = {255, 0, 0};
    /** The clear colour (0.25, 0.5, 1.0) as 8-bit R, G, B. */
    public static final int[] CLEAR = {64, 128, 255};
    /** Pixels whose centre is this close to the diagonal are not judged. */
    public static final double MARGIN = 2.0;
    /** How far a channel may be from the expected value. */
    public static final int TOLERANCE = 1;

    private Picture3d()
    {
    }

    /**
     * What a check found.
     *
     * @param red pixels judged and red where red belongs
     * @param clear pixels judged and of the clear colour where it belongs
     * @param skipped pixels near the diagonal, not judged
     * @param mismatching judged pixels of the wrong colour for their place
     * @param firstMismatch where the first mismatch was and what it held, or null
     */
    public record Result(int width, int height, long red, long clear, long skipped, long mismatching,
        String firstMismatch)
    {
        /**
         * @return whether the frame is the picture: no mismatching pixel, and both colours present.
         */
        public boolean matches()
        {
            return mismatching == 0 && red > 0 && clear > 0;
        }

        @Override
        public String toString()
        {
            return width + "x" + height + " red " + red + " clear " + clear + " skipped " + skipped + " mismatching "
                + mismatching + (firstMismatch == null ? "" : " (first " + firstMismatch + ")");
        }
    }

    /**
     * Checks a screendump.
     */
    public static Result check(final Ppm ppm)
    {
        return check(ppm.width(), ppm.height(), ppm.rgb());
    }

    /**
     * Checks a PNG (e.g. the web display's {@code /snapshot/0.png}).
     */
    public static Result checkPng(final byte[] png) throws IOException
    {
        final BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        if (image == null)
        {
            throw new IOException("not a PNG ImageIO can read (" + png.length + " bytes)");
        }
        final int width = image.getWidth();
        final int height = image.getHeight();
        final byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final int argb = image.getRGB(x, y);
                final int at = (y * width + x) * 3;
                rgb[at] = (byte) (argb >> 16);
                rgb[at + 1] = (byte) (argb >> 8);
                rgb[at + 2] = (byte) argb;
            }
        }
        return check(width, height, rgb);
    }

    /**
     * Checks {@code rgb}: R, G, B bytes per pixel, rows top to bottom.
     */
    public static Result check(final int width, final int height, final byte[] rgb)
    {
        if (width <= 0 || height <= 0 || rgb.length < (long) width * height * 3)
        {
            throw new IllegalArgumentException("a " + width + "x" + height + " picture needs "
                + (long) width * height * 3 + " RGB bytes, got " + rgb.length);
        }
        final double length = Math.hypot(width, height);
        long red = 0;
        long clear = 0;
        long skipped = 0;
        long mismatching = 0;
        String first = null;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final long side = side(x, y, width, height);
                if (Math.abs(side / 2.0) / length <= MARGIN)
                {
                    skipped++;
                    continue;
                }
                final int at = (y * width + x) * 3;
                final int[] want = side < 0 ? RED : CLEAR;
                if (near(rgb, at, want))
                {
                    if (want == RED)
                    {
                        red++;
                    }
                    else
                    {
                        clear++;
                    }
                }
                else
                {
                    if (first == null)
                    {
                        first = "(" + x + "," + y + ") = #%02x%02x%02x, want #%02x%02x%02x".formatted(
                            rgb[at] & 0xff, rgb[at + 1] & 0xff, rgb[at + 2] & 0xff, want[0], want[1], want[2]);
                    }
                    mismatching++;
                }
            }
        }
        return new Result(width, height, red, clear, skipped, mismatching, first);
    }

    /**
     * @return the picture itself as R, G, B rows top to bottom (centres exactly on the diagonal get the clear
     *     colour, as GL's fill rule gives them).
     */
    public static byte[] render(final int width, final int height)
    {
        final byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final int[] colour = side(x, y, width, height) < 0 ? RED : CLEAR;
                final int at = (y * width + x) * 3;
                rgb[at] = (byte) colour[0];
                rgb[at + 1] = (byte) colour[1];
                rgb[at + 2] = (byte) colour[2];
            }
        }
        return rgb;
    }

    /**
     * @return (2x + 1) H - (2y + 1) W: the signed distance of pixel (x, y)'s centre from the diagonal, times twice
     *     the diagonal's length; negative on the red side ((x + 0.5) / W &lt; (y + 0.5) / H in integers).
     */
    private static long side(final int x, final int y, final int width, final int height)
    {
        return (2L * x + 1) * height - (2L * y + 1) * width;
    }

    private static boolean near(final byte[] rgb, final int at, final int[] want)
    {
        for (int c = 0; c < 3; c++)
        {
            if (Math.abs((rgb[at + c] & 0xff) - want[c]) > TOLERANCE)
            {
                return false;
            }
        }
        return true;
    }
}
