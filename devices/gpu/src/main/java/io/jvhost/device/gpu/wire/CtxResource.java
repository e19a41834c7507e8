package io.jvhost.device.gpu.wire;

/**
 * CTX_ATTACH_RESOURCE and CTX_DETACH_RESOURCE (the context id is the header's ctx_id).
 * <pre>
 *   0      24            28     32
 *   +------+-------------+------+
 *   | hdr  | resource_id | pad  |
 *   +------+-------------+------+
 * </pre>
 */
public final class CtxResource extends Flyweight
{
    public static final int SIZE = 32;

    public int resourceId()
    {
        return i32(24);
    }
}
