package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * {@code virtio_gpu_ctrl_hdr}, the 24 bytes every request (and response) starts with.
 * <pre>
 *   0        4        8                16       20   21       24
 *   +--------+--------+----------------+--------+----+--------+
 *   | type   | flags  | fence_id (u64) | ctx_id |ring| pad[3] |
 *   +--------+--------+----------------+--------+----+--------+
 * </pre>
 */
public final class CtrlHeader extends Flyweight
{
    /** Bytes of the header. */
    public static final int SIZE = HDR_SIZE;

    public int type()
    {
        return i32(HDR_TYPE);
    }

    public int flags()
    {
        return i32(HDR_FLAGS);
    }

    public long fenceId()
    {
        return u64(HDR_FENCE_ID);
    }

    public int ctxId()
    {
        return i32(HDR_CTX_ID);
    }

    public int ringIdx()
    {
        return u8(HDR_RING_IDX);
    }
}
