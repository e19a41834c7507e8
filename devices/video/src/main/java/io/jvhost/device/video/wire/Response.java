package io.jvhost.device.video.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * Every virtio-video response, built in the device's scratch buffer before it is copied into the chain: the header
 * ({@code le32 type, le32 stream_id}) and what follows it. Each writer zeroes the response first and returns its size.
 * <pre>
 *   OK_NODATA, any error        0 le32 type, 4 le32 stream_id (0)                                         8 bytes
 *   OK_QUERY_CAPABILITY         8 le32 num_descs, 12 pad, then the format descriptors                    16 + descs
 *     virtio_video_format_desc  0 le64 mask, 8 le32 format, 12 le32 planes_layout, 16 le32 plane_align,
 *                               20 le32 num_frames, then the frames                                      24 + frames
 *     virtio_video_format_frame 0 range width, 16 range height, 32 le32 num_rates, 36 pad, then the rates
 *                               (range: le32 min, max, step, pad: 16 bytes)                              40 + 16 rates
 *   OK_QUERY_CONTROL            8 le32 num, 12 pad, 16 le32 value                                        20
 *   OK_GET_PARAMS               8 virtio_video_params                                                   128
 *     virtio_video_params       0 le32 queue_type, 4 format, 8 frame_width, 12 frame_height, 16 min_buffers,
 *                               20 max_buffers, 24 crop {left, top, width, height}, 40 frame_rate,
 *                               44 num_planes, 48 plane_formats[8] {le32 plane_size, stride},
 *                               112 resource_type, 116 pad                                               120
 *   OK_RESOURCE_QUEUE           8 le64 timestamp, 16 le32 flags, 20 le32 size                            24
 * </pre>
 */
public final class Response extends Flyweight
{
    public static final int HEADER_SIZE = 8;
    /** The largest response: QUERY_CAPABILITY up to the config space's max_caps_length. */
    public static final int MAX_SIZE = 4096;
    public static final int FORMAT_DESC_SIZE = 24;
    public static final int FORMAT_FRAME_SIZE = 40;
    public static final int PARAMS_SIZE = 120;

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

    /**
     * Writes a format descriptor at {@code offset} (no frames: {@code num_frames} is what follows, written by
     * {@link #formatFrame}).
     *
     * @return the offset after it.
     */
    public int formatDesc(final int offset, final long mask, final int format, final int numFrames)
    {
        zero(offset, FORMAT_DESC_SIZE);
        u64(offset, mask);
        u32(offset + 8, format);
        u32(offset + 12, 0);
        u32(offset + 16, 1);
        u32(offset + 20, numFrames);
        return offset + FORMAT_DESC_SIZE;
    }

    /**
     * Writes a frame size range at {@code offset}, without frame rates.
     *
     * @return the offset after it.
     */
    public int formatFrame(final int offset, final int minWidth, final int maxWidth, final int stepWidth,
        final int minHeight, final int maxHeight, final int stepHeight)
    {
        zero(offset, FORMAT_FRAME_SIZE);
        u32(offset, minWidth);
        u32(offset + 4, maxWidth);
        u32(offset + 8, stepWidth);
        u32(offset + 16, minHeight);
        u32(offset + 20, maxHeight);
        u32(offset + 24, stepHeight);
        return offset + FORMAT_FRAME_SIZE;
    }

    /**
     * Starts OK_GET_PARAMS: zeroes the whole response and sets its type and queue type.
     *
     * @return its size.
     */
    public int params(final int queueType)
    {
        zero(0, HEADER_SIZE + PARAMS_SIZE);
        u32(0, 0x0203);
        u32(8, queueType);
        return HEADER_SIZE + PARAMS_SIZE;
    }

    /**
     * Sets field {@code offset} (of virtio_video_params, see the table) of an OK_GET_PARAMS response.
     */
    public void param(final int offset, final int value)
    {
        u32(HEADER_SIZE + offset, value);
    }

    public int type()
    {
        return u32(0);
    }
}
