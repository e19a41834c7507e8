package io.jvhost.device.gpu;

import java.nio.charset.StandardCharsets;

/**
 * Builds the 128-byte EDID 1.4 base block of a virtual monitor whose preferred mode is a given size, for GET_EDID
 * when no display answers (QEMU's {@code qemu_edid_generate} in spirit: made-up but plausible timings, 100 dpi).
 * <pre>
 *    0  header 00 FF FF FF FF FF FF 00
 *    8  manufacturer (3 letters, 5 bits each, big-endian)   10 product (LE)   12 serial (LE)
 *   16  week   17 year-1990   18 version 1   19 revision 4
 *   20  input: digital, 8 bpc, DisplayPort   21 width cm   22 height cm   23 gamma*100-100   24 features
 *   25  chromaticity (10 bytes, sRGB)   35 established timings (3)   38 standard timings (8 x 2, unused 01 01)
 *   54  descriptor 1: preferred detailed timing
 *   72  descriptor 2: monitor name (0xFC)
 *   90  descriptor 3: range limits (0xFD)
 *  108  descriptor 4: dummy (0x10)
 *  126  extension count 0   127 checksum (all 128 bytes sum to 0 mod 256)
 * </pre>
 */
public final class EdidGenerator
{
    public static final int BLOCK_SIZE = 128;
    /** "JVH". */
    public static final String VENDOR = "JVH";
    public static final int PRODUCT_CODE = 0x0001;
    public static final String MONITOR_NAME = "jvhost GPU";
    public static final int REFRESH_HZ = 60;

    private static final int DESCRIPTOR_TIMING = 54;
    private static final int DESCRIPTOR_NAME = 72;
    private static final int DESCRIPTOR_RANGE = 90;
    private static final int DESCRIPTOR_DUMMY = 108;
    private static final int DESCRIPTOR_SIZE = 18;
    private static final int MAX_PIXELS = 4095;

    private EdidGenerator()
    {
    }

    /**
     * @param width  preferred horizontal resolution, 1..4095.
     * @param height preferred vertical resolution, 1..4095.
     * @param serial a serial number (e.g. the scanout index) so that several outputs differ.
     * @return a new 128-byte base block.
     */
    public static byte[] generate(final int width, final int height, final int serial)
    {
        if (width < 1 || width > MAX_PIXELS || height < 1 || height > MAX_PIXELS)
        {
            throw new IllegalArgumentException("EDID mode must be 1..4095 x 1..4095, got " + width + "x" + height);
        }
        final byte[] e = new byte[BLOCK_SIZE];
        e[1] = e[2] = e[3] = e[4] = e[5] = e[6] = (byte)0xFF;

        final int vendor = letter(VENDOR.charAt(0)) << 10 | letter(VENDOR.charAt(1)) << 5 | letter(VENDOR.charAt(2));
        e[8] = (byte)(vendor >>> 8);
        e[9] = (byte)vendor;
        e[10] = (byte)PRODUCT_CODE;
        e[11] = (byte)(PRODUCT_CODE >>> 8);
        e[12] = (byte)serial;
        e[13] = (byte)(serial >>> 8);
        e[14] = (byte)(serial >>> 16);
        e[15] = (byte)(serial >>> 24);
        e[16] = 1;
        e[17] = (byte)(2025 - 1990);
        e[18] = 1;
        e[19] = 4;
        e[20] = (byte)0xA5;
        final int widthMm = Math.max(1, width * 254 / 1000);
        final int heightMm = Math.max(1, height * 254 / 1000);
        e[21] = (byte)Math.max(1, (widthMm + 5) / 10);
        e[22] = (byte)Math.max(1, (heightMm + 5) / 10);
        e[23] = (byte)(220 - 100);
        // sRGB default colour space, preferred timing is native.
        e[24] = 0x06;
        chromaticity(e);
        // 640x480@60, 800x600@60, 1024x768@60.
        e[35] = 0x21;
        e[36] = 0x08;
        for (int i = 38; i < 54; i++)
        {
            e[i] = 1;
        }

        final int hFront = clamp(width * 25 / 100, 1, 1023);
        final int hSync = clamp(width * 3 / 100, 1, 1023);
        final int hBlank = clamp(width * 35 / 100, hFront + hSync + 1, 4095);
        final int vFront = clamp(height * 5 / 1000, 1, 63);
        final int vSync = clamp(height * 5 / 1000, 1, 63);
        final int vBlank = clamp(height * 35 / 1000, vFront + vSync + 1, 4095);
        final long clockHz = (long)REFRESH_HZ * (width + hBlank) * (height + vBlank);
        final int clock10kHz = (int)Math.min(0xFFFF, Math.max(1, (clockHz + 5_000) / 10_000));

        int d = DESCRIPTOR_TIMING;
        e[d] = (byte)clock10kHz;
        e[d + 1] = (byte)(clock10kHz >>> 8);
        e[d + 2] = (byte)width;
        e[d + 3] = (byte)hBlank;
        e[d + 4] = (byte)((width >>> 8 & 0xF) << 4 | hBlank >>> 8 & 0xF);
        e[d + 5] = (byte)height;
        e[d + 6] = (byte)vBlank;
        e[d + 7] = (byte)((height >>> 8 & 0xF) << 4 | vBlank >>> 8 & 0xF);
        e[d + 8] = (byte)hFront;
        e[d + 9] = (byte)hSync;
        e[d + 10] = (byte)((vFront & 0xF) << 4 | vSync & 0xF);
        e[d + 11] = (byte)((hFront >>> 8 & 3) << 6 | (hSync >>> 8 & 3) << 4 | (vFront >>> 4 & 3) << 2
            | vSync >>> 4 & 3);
        e[d + 12] = (byte)widthMm;
        e[d + 13] = (byte)heightMm;
        e[d + 14] = (byte)((widthMm >>> 8 & 0xF) << 4 | heightMm >>> 8 & 0xF);
        // Digital separate sync.
        e[d + 17] = 0x18;

        d = DESCRIPTOR_NAME;
        e[d + 3] = (byte)0xFC;
        text(e, d + 5, MONITOR_NAME);

        d = DESCRIPTOR_RANGE;
        final int hKhz = (int)((clockHz / (width + hBlank) + 999) / 1000);
        e[d + 3] = (byte)0xFD;
        e[d + 5] = 50;
        e[d + 6] = 75;
        e[d + 7] = (byte)clamp(Math.min(30, hKhz), 1, 255);
        e[d + 8] = (byte)clamp(hKhz * 75 / REFRESH_HZ + 1, 1, 255);
        e[d + 9] = (byte)clamp((int)((clockHz * 75 / REFRESH_HZ + 9_999_999) / 10_000_000), 1, 255);
        // Range limits only.
        e[d + 10] = 0x01;
        e[d + 11] = 0x0A;
        for (int i = d + 12; i < d + DESCRIPTOR_SIZE; i++)
        {
            e[i] = 0x20;
        }

        e[DESCRIPTOR_DUMMY + 3] = 0x10;
        e[BLOCK_SIZE - 1] = checksum(e, 0);
        return e;
    }

    /**
     * @return the byte that makes the 128-byte block at {@code offset} sum to 0 mod 256 (excluding its last byte).
     */
    public static byte checksum(final byte[] edid, final int offset)
    {
        int sum = 0;
        for (int i = 0; i < BLOCK_SIZE - 1; i++)
        {
            sum += edid[offset + i];
        }
        return (byte)-sum;
    }

    private static int letter(final char c)
    {
        return c - 'A' + 1;
    }

    private static int clamp(final int value, final int min, final int max)
    {
        return Math.max(min, Math.min(max, value));
    }

    /**
     * A descriptor string: up to 13 ASCII bytes, a line feed after a shorter one, then spaces.
     */
    private static void text(final byte[] e, final int at, final String s)
    {
        final byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        final int n = Math.min(13, b.length);
        System.arraycopy(b, 0, e, at, n);
        for (int i = n; i < 13; i++)
        {
            e[at + i] = (byte)(i == n ? 0x0A : 0x20);
        }
    }

    /**
     * sRGB primaries and D65 white as 10-bit binary fractions: low 2 bits packed in bytes 25-26, high 8 in 27-34.
     */
    private static void chromaticity(final byte[] e)
    {
        final int[] v = {
            fraction(0.640), fraction(0.330), fraction(0.300), fraction(0.600),
            fraction(0.150), fraction(0.060), fraction(0.3127), fraction(0.3290)};
        e[25] = (byte)((v[0] & 3) << 6 | (v[1] & 3) << 4 | (v[2] & 3) << 2 | v[3] & 3);
        e[26] = (byte)((v[4] & 3) << 6 | (v[5] & 3) << 4 | (v[6] & 3) << 2 | v[7] & 3);
        for (int i = 0; i < 8; i++)
        {
            e[27 + i] = (byte)(v[i] >>> 2);
        }
    }

    private static int fraction(final double value)
    {
        return (int)Math.round(value * 1024);
    }
}
