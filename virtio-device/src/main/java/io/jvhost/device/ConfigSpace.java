package io.jvhost.device;

import java.lang.foreign.MemorySegment;

/**
 * Reads of a device's configuration space: the one bounds check every device's {@link VirtioDevice#readConfig} needs.
 * The transport checks the range against {@link VirtioDevice#configSize} before it calls the device; the device checks
 * again against the bytes it really has, so no caller (an embedding VMM, a test) can read past them.
 */
public final class ConfigSpace
{
    private ConfigSpace()
    {
    }

    /**
     * Copies {@code dst.byteSize()} bytes of {@code config} from {@code offset} into {@code dst}.
     *
     * @throws IndexOutOfBoundsException naming the offset, length and size when the range lies outside
     *                                   {@code config}.
     */
    public static void read(final MemorySegment config, final int offset, final MemorySegment dst)
    {
        final long size = config.byteSize();
        if (offset < 0 || offset > size || dst.byteSize() > size - offset)
        {
            throw new IndexOutOfBoundsException("config read of " + dst.byteSize() + " bytes at offset " + offset
                + " outside the " + size + "-byte configuration space");
        }
        MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
    }
}
