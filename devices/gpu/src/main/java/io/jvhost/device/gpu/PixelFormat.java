package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The eight virtio-gpu 2D formats. Names give the byte order in memory; all are 4 bytes a pixel.
 * <pre>
 *  value  virtio name        bytes in memory   DRM fourcc
 *    1    B8G8R8A8_UNORM     B G R A           ARGB8888 (Linux cursor plane)
 *    2    B8G8R8X8_UNORM     B G R X           XRGB8888 (Linux primary plane; what QEMU's UPDATE carries)
 *    3    A8R8G8B8_UNORM     A R G B           BGRA8888
 *    4    X8R8G8B8_UNORM     X R G B           BGRX8888
 *   67    R8G8B8A8_UNORM     R G B A           ABGR8888
 *   68    X8B8G8R8_UNORM     X B G R           RGBX8888
 *  121    A8B8G8R8_UNORM     A B G R           RGBA8888
 *  134    R8G8B8X8_UNORM     R G B X           XBGR8888
 * </pre>
 */
public enum PixelFormat
{
    B8G8R8A8(1),
    B8G8R8X8(2),
    A8R8G8B8(3),
    X8R8G8B8(4),
    R8G8B8A8(67),
    X8B8G8R8(68),
    A8B8G8R8(121),
    R8G8B8X8(134);

    public static final int BYTES_PER_PIXEL = 4;

    /** A pixel read as a little-endian int: byte 0 in bits 0-7, byte 3 in bits 24-31. */
    private static final ValueLayout.OfInt PIXEL = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int OPAQUE = 0xFF00_0000;

    private final int value;

    PixelFormat(final int value)
    {
        this.value = value;
    }

    /**
     * @return the virtio-gpu format number.
     */
    public int value()
    {
        return value;
    }

    /**
     * @return the format with virtio number {@code value}, or null if there is none.
     */
    public static PixelFormat of(final int value)
    {
        return switch (value)
        {
            case 1 -> B8G8R8A8;
            case 2 -> B8G8R8X8;
            case 3 -> A8R8G8B8;
            case 4 -> X8R8G8B8;
            case 67 -> R8G8B8A8;
            case 68 -> X8B8G8R8;
            case 121 -> A8B8G8R8;
            case 134 -> R8G8B8X8;
            default -> null;
        };
    }

    /**
     * @return true when the fourth channel is padding (X), not alpha.
     */
    public boolean hasPadding()
    {
        return switch (this)
        {
            case B8G8R8X8, X8R8G8B8, X8B8G8R8, R8G8B8X8 -> true;
            default -> false;
        };
    }

    /**
     * Converts {@code width} pixels from this format at {@code src}+{@code srcOffset} to B,G,R,X (x8r8g8b8 on a
     * little-endian host: what QEMU's vhost-user-gpu UPDATE carries) at {@code dst}+{@code dstOffset}. For
     * B8G8R8X8/B8G8R8A8 this is a plain copy (the fourth byte is copied as is: X is ignored by its readers); the
     * other formats write 0xFF there.
     */
    public void toBgrx(final MemorySegment src, final long srcOffset, final MemorySegment dst, final long dstOffset,
        final int width)
    {
        if (this == B8G8R8X8 || this == B8G8R8A8)
        {
            MemorySegment.copy(src, srcOffset, dst, dstOffset, (long)width * BYTES_PER_PIXEL);
            return;
        }
        convert(src, srcOffset, dst, dstOffset, width, OPAQUE);
    }

    /**
     * Converts {@code width} pixels from this format to B,G,R,A (ARGB8888 as QEMU's cursor wants), keeping alpha
     * (0xFF for X formats). B8G8R8A8 is a plain copy.
     */
    public void toBgra(final MemorySegment src, final long srcOffset, final MemorySegment dst, final long dstOffset,
        final int width)
    {
        if (this == B8G8R8A8)
        {
            MemorySegment.copy(src, srcOffset, dst, dstOffset, (long)width * BYTES_PER_PIXEL);
            return;
        }
        convert(src, srcOffset, dst, dstOffset, width, hasPadding() ? OPAQUE : 0);
    }

    /**
     * Rearranges each pixel into B,G,R,A order and ORs {@code alphaOr} into the A byte. One loop per format keeps the
     * switch out of the per-pixel path.
     */
    private void convert(final MemorySegment src, final long srcOffset, final MemorySegment dst, final long dstOffset,
        final int width, final int alphaOr)
    {
        if (width < 0)
        {
            throw new IllegalArgumentException("negative width=" + width);
        }
        final long end = srcOffset + (long)width * BYTES_PER_PIXEL;
        final long delta = dstOffset - srcOffset;
        switch (this)
        {
            case B8G8R8A8, B8G8R8X8 ->
            {
                // B G R A|X: already in order.
                for (long s = srcOffset; s < end; s += BYTES_PER_PIXEL)
                {
                    dst.set(PIXEL, s + delta, src.get(PIXEL, s) | alphaOr);
                }
            }
            case A8R8G8B8, X8R8G8B8 ->
            {
                // A R G B: the reverse of B G R A.
                for (long s = srcOffset; s < end; s += BYTES_PER_PIXEL)
                {
                    dst.set(PIXEL, s + delta, Integer.reverseBytes(src.get(PIXEL, s)) | alphaOr);
                }
            }
            case R8G8B8A8, R8G8B8X8 ->
            {
                // R G B A: swap bytes 0 and 2.
                for (long s = srcOffset; s < end; s += BYTES_PER_PIXEL)
                {
                    final int v = src.get(PIXEL, s);
                    dst.set(PIXEL, s + delta, (v & 0xFF00_FF00) | (v >>> 16 & 0xFF) | (v & 0xFF) << 16 | alphaOr);
                }
            }
            case A8B8G8R8, X8B8G8R8 ->
            {
                // A B G R: B G R move down a byte, A goes on top.
                for (long s = srcOffset; s < end; s += BYTES_PER_PIXEL)
                {
                    dst.set(PIXEL, s + delta, Integer.rotateRight(src.get(PIXEL, s), 8) | alphaOr);
                }
            }
        }
    }
}
