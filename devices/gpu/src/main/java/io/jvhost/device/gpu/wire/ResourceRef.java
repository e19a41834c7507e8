package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The commands that name one resource and nothing else: RESOURCE_UNREF, RESOURCE_DETACH_BACKING,
 * RESOURCE_ASSIGN_UUID.
 * <pre>
 *   0      24            28     32
 *   +------+-------------+------+
 *   | hdr  | resource_id | pad  |
 *   +------+-------------+------+
 * </pre>
 */
public final class ResourceRef extends Flyweight
{
    public static final int SIZE = RESOURCE_CMD_SIZE;

    public int resourceId()
    {
        return i32(RESOURCE_ID);
    }
}
