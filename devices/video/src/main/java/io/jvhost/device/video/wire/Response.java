package io.jvhost.device.video.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * Every virtio-video response, built in the device's scratch buffer before it is copied into the chain: the header
 * ({@code le32 type, le32 stream_id}) and what follows it. Each writer zeroes the response first and returns its size.
 * <pre>
 *   OK_NODATA, any error        0 le32 type, 4 le32 stream_id (0)                                         8 bytes
 *   OK_QUERY_CAPABILITY         8 le32 num_descs, 12 pad, then the format descriptors                    16 + descs
 *   OK_QUERY_CONTROL            8 le32 num, 12 pad, 16 le32 value                                        20
 *   OK_GET_PARAMS               8 virtio_video_params                                                   128
 *   OK_RESOURCE_QUEUE           8 le64 timestamp, 16 le32 flags, 20 le32 size                            24
 * </pre>
 */
public final class Response extends Flyweight
{
    public static final int HEADER_SIZE = 8;
    public static final int MAX_SIZE = 128;

    public int header(final int type)
    {
        zero(0, HEADER_SIZE);
        u32(0, type);
        return HEADER_SIZE;
    }

    public int queryCapability(final int type, final int numDescs)
    {
        zero(0, 16);
        u32(0, type);
        u32(8, numDescs);
        return 16;
    }

    public int queryControl(final int type, final int num, final int value)
    {
        zero(0, 20);
        u32(0, type);
        u32(8, num);
        u32(16, value);
        return 20;
    }

    public int resourceQueue(final int type, final long timestamp, final int flags, final int size)
    {
        zero(0, 24);
        u32(0, type);
        u64(8, timestamp);
        u32(16, flags);
        u32(20, size);
        return 24;
    }

    public int type()
    {
        return u32(0);
    }
}
