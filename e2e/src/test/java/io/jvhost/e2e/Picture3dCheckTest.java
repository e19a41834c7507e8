package io.jvhost.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.e2e.support.Picture3d;
import io.jvhost.e2e.support.Ppm;

/**
 * The host-side check of the 3D guest's frame accepts the picture (through a PPM screendump and a PNG snapshot, with
 * a channel off by one) and refuses it flipped, mirrored, off by two, or with one wrong pixel away from the diagonal.
 */
class Picture3dCheckTest
{
    private static final int WIDTH = 1280;
    private static final int HEIGHT = 800;

    @Test
    void thePictureMatchesThroughAScreendump(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("shot.ppm");
        final byte[] header = ("P6\n" + WIDTH + " " + HEIGHT + "\n255\n").getBytes(StandardCharsets.US_ASCII);
        final byte[] rgb = Picture3d.render(WIDTH, HEIGHT);
        final byte[] ppm = new byte[header.length + rgb.length];
        System.arraycopy(header, 0, ppm, 0, header.length);
        System.arraycopy(rgb, 0, ppm, header.length, rgb.length);
        Files.write(file, ppm);

        final Picture3d.Result result = Picture3d.check(Ppm.read(file));

        assertThat(result.matches()).as(result.toString()).isTrue();
        assertThat(result.mismatching()).isZero();
        assertThat(result.red() + result.clear() + result.skipped()).isEqualTo((long) WIDTH * HEIGHT);
        assertThat(result.skipped()).as("a band of 4 px along a 1509 px diagonal").isBetween(5000L, 7000L);
        assertThat(result.red()).isCloseTo(result.clear(), org.assertj.core.data.Offset.offset(10L));
    }

    @Test
    void thePictureMatchesThroughAPngWithAChannelOffByOne() throws Exception
    {
        final byte[] rgb = Picture3d.render(WIDTH, HEIGHT);
        for (int i = 0; i < rgb.length; i += 3)
        {
            rgb[i + 1] = (byte) ((rgb[i + 1] & 0xff) == 0 ? 1 : (rgb[i + 1] & 0xff) - 1);
        }

        final Picture3d.Result result = Picture3d.checkPng(png(rgb, WIDTH, HEIGHT));

        assertThat(result.matches()).as(result.toString()).isTrue();
    }

    @Test
    void aVerticallyFlippedFrameIsRefused()
    {
        final byte[] rgb = Picture3d.render(WIDTH, HEIGHT);
        final byte[] flipped = new byte[rgb.length];
        final int row = WIDTH * 3;
        for (int y = 0; y < HEIGHT; y++)
        {
            System.arraycopy(rgb, y * row, flipped, (HEIGHT - 1 - y) * row, row);
        }

        final Picture3d.Result result = Picture3d.check(WIDTH, HEIGHT, flipped);

        assertThat(result.matches()).isFalse();
        assertThat(result.mismatching()).as(result.toString()).isGreaterThan((long) WIDTH * HEIGHT / 3);
    }

    @Test
    void aMirroredFrameIsRefused()
    {
        final byte[] rgb = Picture3d.render(WIDTH, HEIGHT);
        final byte[] mirrored = new byte[rgb.length];
        for (int y = 0; y < HEIGHT; y++)
        {
            for (int x = 0; x < WIDTH; x++)
            {
                System.arraycopy(rgb, (y * WIDTH + x) * 3, mirrored, (y * WIDTH + WIDTH - 1 - x) * 3, 3);
            }
        }

        assertThat(Picture3d.check(WIDTH, HEIGHT, mirrored).mismatching()).isGreaterThan((long) WIDTH * HEIGHT / 3);
    }

    @Test
    void aChannelOffByTwoOrOneWrongPixelIsRefused()
    {
        final byte[] offByTwo = Picture3d.render(WIDTH, HEIGHT);
        offByTwo[(400 * WIDTH + 100) * 3 + 2] -= 2;   // (100, 400): red side, blue 0 -> 254
        final byte[] wrong = Picture3d.render(WIDTH, HEIGHT);
        wrong[(10 * WIDTH + 1200) * 3] = 0;           // (1200, 10): clear side, red 64 -> 0

        final Picture3d.Result a = Picture3d.check(WIDTH, HEIGHT, offByTwo);
        final Picture3d.Result b = Picture3d.check(WIDTH, HEIGHT, wrong);

        assertThat(a.mismatching()).isEqualTo(1);
        assertThat(a.firstMismatch()).isEqualTo("(100,400) = #ff00fe, want #ff0000");
        assertThat(b.mismatching()).isEqualTo(1);
        assertThat(b.firstMismatch()).isEqualTo("(1200,10) = #0080ff, want #4080ff");
    }

    @Test
    void aPixelNextToTheDiagonalIsNotJudged()
    {
        final byte[] rgb = Picture3d.render(WIDTH, HEIGHT);
        // (640, 400) is on the diagonal of 1280x800; paint a 3x3 block around it green.
        for (int y = 399; y <= 401; y++)
        {
            for (int x = 639; x <= 641; x++)
            {
                final int at = (y * WIDTH + x) * 3;
                rgb[at] = 0;
                rgb[at + 1] = (byte) 255;
                rgb[at + 2] = 0;
            }
        }

        assertThat(Picture3d.check(WIDTH, HEIGHT, rgb).matches()).isTrue();
    }

    @Test
    void aBlankFrameIsRefused()
    {
        final byte[] clear = new byte[WIDTH * HEIGHT * 3];
        for (int i = 0; i < clear.length; i += 3)
        {
            clear[i] = (byte) Picture3d.CLEAR[0];
            clear[i + 1] = (byte) Picture3d.CLEAR[1];
            clear[i + 2] = (byte) Picture3d.CLEAR[2];
        }

        final Picture3d.Result result = Picture3d.check(WIDTH, HEIGHT, clear);

        assertThat(result.matches()).isFalse();
        assertThat(result.red()).isZero();
    }

    private static byte[] png(final byte[] rgb, final int width, final int height) throws Exception
    {
        final BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                final int at = (y * width + x) * 3;
                image.setRGB(x, y, (rgb[at] & 0xff) << 16 | (rgb[at + 1] & 0xff) << 8 | rgb[at + 2] & 0xff);
            }
        }
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }
}
