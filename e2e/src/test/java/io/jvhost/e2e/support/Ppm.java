package io.jvhost.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A binary PPM (P6, maxval 255) as QEMU's {@code screendump} writes it: width, height and RGB bytes.
 */
public record Ppm(int width, int height, byte[] rgb)
{
    /**
     * Reads a P6 file.
     */
    public static Ppm read(final Path file) throws IOException
    {
        final byte[] data = Files.readAllBytes(file);
        final int[] pos = {0};
        final String magic = token(data, pos);
        if (!"P6".equals(magic))
        {
            throw new IOException("not a binary PPM: magic " + magic + " in " + file);
        }
        final int width = Integer.parseInt(token(data, pos));
        final int height = Integer.parseInt(token(data, pos));
        final int max = Integer.parseInt(token(data, pos));
        if (max != 255)
        {
            throw new IOException("unsupported PPM maxval " + max);
        }
        final int start = pos[0] + 1;
        final byte[] rgb = java.util.Arrays.copyOfRange(data, start, start + width * height * 3);
        return new Ppm(width, height, rgb);
    }

    private static String token(final byte[] data, final int[] pos)
    {
        while (Character.isWhitespace(data[pos[0]]) || data[pos[0]] == '#')
        {
            if (data[pos[0]] == '#')
            {
                while (data[pos[0]] != '\n')
                {
                    pos[0]++;
                }
            }
            pos[0]++;
        }
        final int start = pos[0];
        while (!Character.isWhitespace(data[pos[0]]))
        {
            pos[0]++;
        }
        return new String(data, start, pos[0] - start, java.nio.charset.StandardCharsets.US_ASCII);
    }

    /**
     * @return the number of pixels whose RGB differs from the B,G,R,X image {@code bgrx} of the same size.
     */
    public int differingPixels(final byte[] bgrx)
    {
        int differ = 0;
        for (int p = 0; p < width * height; p++)
        {
            if (rgb[3 * p] != bgrx[4 * p + 2] || rgb[3 * p + 1] != bgrx[4 * p + 1] || rgb[3 * p + 2] != bgrx[4 * p])
            {
                differ++;
            }
        }
        return differ;
    }
}
