package io.jvhost.device.sound.wire;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian unaligned layouts for the wire structs (virtio-snd is little-endian whatever the host).
 */
final class Le
{
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;

    private Le()
    {
    }
}
