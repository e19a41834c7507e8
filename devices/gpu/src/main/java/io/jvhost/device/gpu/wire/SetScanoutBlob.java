package io.jvhost.device.gpu.wire;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * SET_SCANOUT_BLOB: the fields of {@link SetScanout}, then the framebuffer laid over the blob (only plane 0 of the
 * strides and offsets is used: virtio-gpu 2D formats have one plane).
 * <pre>
 *   0      24        40           44            48      52       56       60    64          80          96
 *   +------+---------+------------+-------------+-------+--------+--------+-----+-----------+-----------+
 *   | hdr  | rect    | scanout_id | resource_id | width | height | format | pad | strides[4]| offsets[4]|
 *   +------+---------+------------+-------------+-------+--------+--------+-----+-----------+-----------+
 * </pre>
 */
public final class SetScanoutBlob extends SetScanout
{
    public static final int SIZE = SET_SCANOUT_BLOB_SIZE;

    public long fbWidth()
    {
        return u32(SCANOUT_BLOB_WIDTH);
    }

    public long fbHeight()
    {
        return u32(SCANOUT_BLOB_HEIGHT);
    }

    public int format()
    {
        return i32(SCANOUT_BLOB_FORMAT);
    }

    public long stride0()
    {
        return u32(SCANOUT_BLOB_STRIDES);
    }

    public long offset0()
    {
        return u32(SCANOUT_BLOB_OFFSETS);
    }
}
