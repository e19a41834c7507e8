package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PixelFormatTest
{
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What {@link PixelFormat#toBgrx} makes of a pixel whose memory bytes, read as a little-endian int, are
     * {@code memory}: B,G,R,X as a little-endian int (X 0xFF, except for the two copied formats).
     */
    static int expectedBgrx(final PixelFormat format, final int memory)
    {
        return switch (format)
        {
            case B8G8R8A8, B8G8R8X8 -> memory;
            default -> expectedBgra(format, memory) | 0xFF00_0000;
        };
    }

    /**
     * Reference conversion, byte by byte from the names (bytes in memory order).
     */
    static int expectedBgra(final PixelFormat format, final int memory)
    {
        final int b0 = memory & 0xFF;
        final int b1 = memory >>> 8 & 0xFF;
        final int b2 = memory >>> 16 & 0xFF;
        final int b3 = memory >>> 24;
        final int[] bgra = switch (format)
        {
            case B8G8R8A8 -> new int[] {b0, b1, b2, b3};
            case B8G8R8X8 -> new int[] {b0, b1, b2, 0xFF};
            case A8R8G8B8 -> new int[] {b3, b2, b1, b0};
            case X8R8G8B8 -> new int[] {b3, b2, b1, 0xFF};
            case R8G8B8A8 -> new int[] {b2, b1, b0, b3};
            case R8G8B8X8 -> new int[] {b2, b1, b0, 0xFF};
            case A8B8G8R8 -> new int[] {b1, b2, b3, b0};
            case X8B8G8R8 -> new int[] {b1, b2, b3, 0xFF};
        };
        return bgra[0] | bgra[1] << 8 | bgra[2] << 16 | bgra[3] << 24;
    }

    @Test
    void ofFindsEveryVirtioFormatNumberAndNothingElse()
    {
        for (final PixelFormat f : PixelFormat.values())
        {
            assertThat(PixelFormat.of(f.value())).isSameAs(f);
        }
        assertThat(PixelFormat.values()).extracting(PixelFormat::value).containsExactly(1, 2, 3, 4, 67, 68, 121, 134);
        for (final int bad : new int[] {0, 5, 66, 69, 120, 122, 133, 135, -1, Integer.MAX_VALUE})
        {
            assertThat(PixelFormat.of(bad)).as("%d", bad).isNull();
        }
    }

    @Test
    void everyFormatConvertsToBgrxAndBgraByItsByteOrder()
    {
        final int[] samples = {0x44332211, 0x00000000, 0xFFFFFFFF, 0x80FF0001, 0x01020304, 0xDEADBEEF};
        final MemorySegment src = MemorySegment.ofArray(new byte[samples.length * 4 + 3]);
        final MemorySegment dst = MemorySegment.ofArray(new byte[samples.length * 4 + 5]);
        for (final PixelFormat f : PixelFormat.values())
        {
            // Odd offsets: conversions must not assume alignment.
            for (int i = 0; i < samples.length; i++)
            {
                src.set(PIXEL, 3 + i * 4L, samples[i]);
            }
            f.toBgrx(src, 3, dst, 5, samples.length);
            for (int i = 0; i < samples.length; i++)
            {
                assertThat(dst.get(PIXEL, 5 + i * 4L)).as("%s toBgrx %08x", f, samples[i])
                    .isEqualTo(expectedBgrx(f, samples[i]));
            }
            f.toBgra(src, 3, dst, 5, samples.length);
            for (int i = 0; i < samples.length; i++)
            {
                assertThat(dst.get(PIXEL, 5 + i * 4L)).as("%s toBgra %08x", f, samples[i])
                    .isEqualTo(expectedBgra(f, samples[i]));
            }
        }
    }

    @Test
    void convertingZeroPixelsWritesNothingAndPaddingFormatsAreKnown()
    {
        final MemorySegment dst = MemorySegment.ofArray(new byte[8]);
        for (final PixelFormat f : PixelFormat.values())
        {
            f.toBgrx(MemorySegment.ofArray(new byte[0]), 0, dst, 0, 0);
            f.toBgra(MemorySegment.ofArray(new byte[0]), 0, dst, 0, 0);
        }
        assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
        assertThat(PixelFormat.values()).filteredOn(PixelFormat::hasPadding)
            .containsExactlyInAnyOrder(PixelFormat.B8G8R8X8, PixelFormat.X8R8G8B8, PixelFormat.X8B8G8R8,
                PixelFormat.R8G8B8X8);
    }
}
