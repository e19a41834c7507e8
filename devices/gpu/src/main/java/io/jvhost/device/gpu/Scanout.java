package io.jvhost.device.gpu;

/**
 * What one scanout shows: a rectangle of a resource (2D) or of a framebuffer laid over a guest blob. Guarded by the
 * device lock.
 * <pre>
 *   framebuffer (2D: the resource image; blob: width x height at offset, stride bytes a row)
 *   +-----------------------------------+
 *   |     (x, y)                        |
 *   |       +-----------+               |
 *   |       |  scanout  | height        |
 *   |       +-----------+               |
 *   |           width                   |
 *   +-----------------------------------+
 * </pre>
 */
final class Scanout
{
    final int index;
    /** Null: disabled. */
    Resource resource;
    int x;
    int y;
    int width;
    int height;
    PixelFormat format;
    int stride;
    /** Blob only: where the framebuffer starts in the blob (offsets[0]). */
    long offset;
    /** The size last announced to the current display (0 x 0: disabled or never announced). */
    int shownWidth;
    int shownHeight;

    Scanout(final int index)
    {
        this.index = index;
    }

    boolean enabled()
    {
        return null != resource;
    }

    void clear()
    {
        resource = null;
        x = y = width = height = 0;
        format = null;
        stride = 0;
        offset = 0;
    }
}
