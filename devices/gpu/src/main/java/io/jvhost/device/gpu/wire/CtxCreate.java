package io.jvhost.device.gpu.wire;

/**
 * CTX_CREATE (the context id is the header's ctx_id).
 * <pre>
 *   0      24     28             32           96
 *   +------+------+--------------+------------+
 *   | hdr  | nlen | context_init | debug_name |
 *   +------+------+--------------+------------+
 * </pre>
 */
public final class CtxCreate extends Flyweight
{
    public static final int SIZE = 96;
    /** Where the debug name's (up to 64) bytes start. */
    public static final int DEBUG_NAME = 32;
    public static final int DEBUG_NAME_MAX = 64;

    public long nameLength()
    {
        return u32(24);
    }

    public int contextInit()
    {
        return i32(28);
    }
}
