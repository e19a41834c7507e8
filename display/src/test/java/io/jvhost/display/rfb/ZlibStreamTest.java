package io.jvhost.display.rfb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.junit.jupiter.api.Test;

class ZlibStreamTest
{
    private static final int RECT = 64 * 64 * 4;

    private final Random random = new Random(7);
    private final Inflater inflater = new Inflater();
    private final ByteSink data = new ByteSink(RECT);
    private final ByteSink out = new ByteSink(RECT);

    private byte[] noise()
    {
        final byte[] b = new byte[RECT];
        random.nextBytes(b);
        return b;
    }

    private static byte[] flat(final int value)
    {
        final byte[] b = new byte[RECT];
        Arrays.fill(b, (byte)value);
        return b;
    }

    /**
     * Compresses one rectangle, checks the viewer's side inflates it back exactly, and returns its compressed size.
     */
    private int roundTrip(final ZlibStream stream, final byte[] rectangle) throws DataFormatException
    {
        data.reset();
        data.bytes(rectangle);
        out.reset();
        stream.compress(data, out);
        final byte[] wire = Arrays.copyOf(out.array(), out.length());
        final int length = (wire[0] & 0xff) << 24 | (wire[1] & 0xff) << 16 | (wire[2] & 0xff) << 8 | wire[3] & 0xff;
        assertThat(length).isEqualTo(wire.length - 4);
        inflater.setInput(wire, 4, length);
        final ByteArrayOutputStream inflated = new ByteArrayOutputStream();
        final byte[] buf = new byte[8192];
        int n;
        while ((n = inflater.inflate(buf)) > 0)
        {
            inflated.write(buf, 0, n);
        }
        assertThat(inflated.toByteArray()).as("what the viewer inflates").isEqualTo(rectangle);
        return length;
    }

    @Test
    void incompressibleRectanglesSwitchTheStreamToStoredBlocksAndStayDecodable() throws Exception
    {
        try (ZlibStream stream = new ZlibStream(1))
        {
            roundTrip(stream, noise());
            assertThat(stream.currentLevel()).isZero();
            final int stored = roundTrip(stream, noise());
            // Stored blocks: the data plus a few bytes of block headers and the sync flush marker.
            assertThat(stored).isBetween(RECT, RECT + 32);
        }
    }

    @Test
    void aStoringStreamSamplesAndReturnsToCompressingWhenThePictureCompresses() throws Exception
    {
        try (ZlibStream stream = new ZlibStream(1))
        {
            roundTrip(stream, noise());
            for (int i = 0; i < ZlibStream.STORED_PROBE_INTERVAL; i++)
            {
                assertThat(stream.currentLevel()).as("rectangle %d", i).isZero();
                roundTrip(stream, flat(i));
            }
            assertThat(stream.currentLevel()).as("after the sample").isEqualTo(1);
            assertThat(roundTrip(stream, flat(99))).isLessThan(RECT / 20);
            assertThat(stream.currentLevel()).isEqualTo(1);
        }
    }

    @Test
    void samplesThatStillDoNotCompressKeepTheStreamStoring() throws Exception
    {
        try (ZlibStream stream = new ZlibStream(1))
        {
            for (int i = 0; i < 4 * ZlibStream.STORED_PROBE_INTERVAL; i++)
            {
                roundTrip(stream, noise());
                assertThat(stream.currentLevel()).as("after rectangle %d", i).isZero();
            }
        }
    }

    @Test
    void compressibleAndSmallRectanglesKeepTheConfiguredLevel() throws Exception
    {
        try (ZlibStream stream = new ZlibStream(1))
        {
            for (int i = 0; i < 40; i++)
            {
                roundTrip(stream, flat(i));
                final byte[] small = new byte[ZlibStream.MIN_JUDGED_BYTES - 1];
                random.nextBytes(small);
                roundTrip(stream, small);
            }
            assertThat(stream.currentLevel()).isEqualTo(1);
        }
    }
}
