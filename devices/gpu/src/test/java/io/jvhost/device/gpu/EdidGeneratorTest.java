package io.jvhost.device.gpu;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EdidGeneratorTest
{
    /**
     * Header, checksum, version, vendor and product, the preferred detailed timing for width x height, and a monitor
     * name descriptor.
     */
    static void assertValidBaseBlock(final byte[] edid, final int width, final int height)
    {
        assertThat(edid).hasSize(128);
        assertThat(Arrays.copyOf(edid, 8)).containsExactly(0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00);
        int sum = 0;
        for (final byte b : edid)
        {
            sum += b & 0xFF;
        }
        assertThat(sum % 256).as("checksum").isZero();
        final int vendor = (edid[8] & 0xFF) << 8 | edid[9] & 0xFF;
        final String letters = "" + (char)('A' - 1 + (vendor >>> 10 & 31)) + (char)('A' - 1 + (vendor >>> 5 & 31))
            + (char)('A' - 1 + (vendor & 31));
        assertThat(letters).isEqualTo(EdidGenerator.VENDOR);
        assertThat(vendor >>> 15).as("reserved bit").isZero();
        assertThat((edid[10] & 0xFF) | (edid[11] & 0xFF) << 8).isEqualTo(EdidGenerator.PRODUCT_CODE);
        assertThat(edid[18]).isEqualTo((byte)1);
        assertThat(edid[19]).isEqualTo((byte)4);
        assertThat(edid[24] & 0x02).as("preferred timing is native").isEqualTo(2);

        // Descriptor 1: detailed timing with the mode.
        final int d = 54;
        final int clock = (edid[d] & 0xFF) | (edid[d + 1] & 0xFF) << 8;
        assertThat(clock).as("pixel clock").isPositive();
        final int hActive = (edid[d + 2] & 0xFF) | (edid[d + 4] & 0xF0) << 4;
        final int hBlank = (edid[d + 3] & 0xFF) | (edid[d + 4] & 0x0F) << 8;
        final int vActive = (edid[d + 5] & 0xFF) | (edid[d + 7] & 0xF0) << 4;
        final int vBlank = (edid[d + 6] & 0xFF) | (edid[d + 7] & 0x0F) << 8;
        assertThat(hActive).isEqualTo(width);
        assertThat(vActive).isEqualTo(height);
        final int hFront = (edid[d + 8] & 0xFF) | (edid[d + 11] & 0xC0) << 2;
        final int hSync = (edid[d + 9] & 0xFF) | (edid[d + 11] & 0x30) << 4;
        final int vFront = (edid[d + 10] & 0xF0) >>> 4 | (edid[d + 11] & 0x0C) << 2;
        final int vSync = edid[d + 10] & 0x0F | (edid[d + 11] & 0x03) << 4;
        assertThat(hFront + hSync).isLessThanOrEqualTo(hBlank);
        assertThat(vFront + vSync).isLessThanOrEqualTo(vBlank);
        final double refresh = clock * 10_000.0 / ((double)(hActive + hBlank) * (vActive + vBlank));
        if (clock < 0xFFFF && width >= 320 && height >= 200)
        {
            assertThat(refresh).isBetween(59.0, 61.0);
        }

        // A monitor name descriptor somewhere among descriptors 2-4.
        boolean named = false;
        for (int at = 72; at < 126; at += 18)
        {
            if (edid[at] == 0 && edid[at + 1] == 0 && (edid[at + 3] & 0xFF) == 0xFC)
            {
                final String name = new String(edid, at + 5, 13, StandardCharsets.US_ASCII);
                assertThat(name).startsWith(EdidGenerator.MONITOR_NAME + "\n");
                named = true;
            }
        }
        assertThat(named).as("monitor name descriptor").isTrue();
        assertThat(edid[126]).as("extensions").isZero();
    }

    @Test
    void generatesValidBlocksForCommonAndExtremeModes()
    {
        for (final int[] mode : new int[][] {{1280, 800}, {1920, 1080}, {1024, 768}, {640, 480}, {1, 1},
            {4095, 4095}, {3840, 2160}, {16, 4095}})
        {
            assertValidBaseBlock(EdidGenerator.generate(mode[0], mode[1], 1), mode[0], mode[1]);
        }
    }

    @Test
    void serialTellsOutputsApartAndChecksumStaysValid()
    {
        final byte[] a = EdidGenerator.generate(1280, 800, 1);
        final byte[] b = EdidGenerator.generate(1280, 800, 2);
        assertThat(a).isNotEqualTo(b);
        assertThat(EdidGenerator.checksum(b, 0)).isEqualTo(b[127]);
    }

    @Test
    void refusesModesADetailedTimingCannotHold()
    {
        assertThatThrownBy(() -> EdidGenerator.generate(4096, 100, 0)).hasMessageContaining("4096x100");
        assertThatThrownBy(() -> EdidGenerator.generate(100, 0, 0)).hasMessageContaining("100x0");
    }
}
