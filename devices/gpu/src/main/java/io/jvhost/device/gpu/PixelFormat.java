package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;

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
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Converts {@code width} pixels from this format at {@code src}+{@code srcOffset} to B,G,R,X (x8r8g8b8 on a
     * little-endian host: what QEMU's vhost-user-gpu UPDATE carries) at {@code dst}+{@code dstOffset}. For
     * B8G8R8X8/B8G8R8A8 this is a plain copy. The alpha/X byte written is 0xFF.
     */
    public void toBgrx(final MemorySegment src, final long srcOffset, final MemorySegment dst, final long dstOffset,
        final int width)
    {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Converts {@code width} pixels from this format to B,G,R,A (ARGB8888 as QEMU's cursor wants), keeping alpha
     * (0xFF for X formats).
     */
    public void toBgra(final MemorySegment src, final long srcOffset, final MemorySegment dst, final long dstOffset,
        final int width)
    {
        throw new UnsupportedOperationException("TODO");
    }
}
