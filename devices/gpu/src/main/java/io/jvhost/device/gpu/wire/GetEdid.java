package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * GET_EDID.
 * <pre>
 *   0      24        28     32
 *   +------+---------+------+
 *   | hdr  | scanout | pad  |
 *   +------+---------+------+
 * </pre>
 */
public final class GetEdid extends Flyweight
{
    public static final int SIZE = GET_EDID_SIZE;

    public long scanout()
    {
        return u32(GET_EDID_SCANOUT);
    }
}
