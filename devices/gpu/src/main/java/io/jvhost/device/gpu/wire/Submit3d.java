package io.jvhost.device.gpu.wire;

/**
 * SUBMIT_3D: {@code size} bytes of virgl command stream follow the structure (in the header's ctx_id).
 * <pre>
 *   0      24     28     32
 *   +------+------+------+----------------
 *   | hdr  | size | pad  | commands ...
 *   +------+------+------+----------------
 * </pre>
 */
public final class Submit3d extends Flyweight
{
    public static final int SIZE = 32;

    public long size()
    {
        return u32(24);
    }
}
