package io.jvhost.device.video.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * A virtio-video command (draft v3, as rust-vmm's staging vhost-device-video reads it) in the device's scratch buffer:
 * {@code struct virtio_video_cmd_hdr} and the body of each command type, all little-endian.
 * <pre>
 *   header (every command)      0 le32 type, 4 le32 stream_id                                             8 bytes
 *   QUERY_CAPABILITY            8 le32 queue_type, 12 pad                                                16
 *   QUERY_CONTROL               8 le32 control, 12 pad, 16 le32 format, 20 pad                           24
 *   STREAM_CREATE               8 le32 in_mem_type, 12 le32 out_mem_type, 16 le32 coded_format,
 *                               20 pad, 24 u8 tag[64]                                                    88
 *   STREAM_DESTROY, DRAIN       the header alone                                                          8
 *   RESOURCE_CREATE             8 le32 queue_type, 12 le32 resource_id, 16 le32 planes_layout,
 *                               20 le32 num_planes, 24 le32 plane_offsets[8], 56 le32 num_entries[8]     88
 *                               then sum(num_entries) x virtio_video_mem_entry {le64 addr, le32 length, pad}
 *   RESOURCE_QUEUE              8 le32 queue_type, 12 le32 resource_id, 16 le64 timestamp,
 *                               24 le32 num_data_sizes, 28 le32 data_sizes[8], 60 pad                    64
 *   RESOURCE_DESTROY_ALL,
 *   QUEUE_CLEAR, GET_PARAMS_EXT 8 le32 queue_type, 12 pad                                                16
 *   SET_PARAMS_EXT              8 virtio_video_params (120 bytes, queue_type first)                     128
 *   GET_CONTROL                 8 le32 control, 12 pad                                                   16
 * </pre>
 */
public final class Command extends Flyweight
{
    public static final int HEADER_SIZE = 8;
    /** The largest fixed part (SET_PARAMS_EXT). */
    public static final int MAX_SIZE = 128;
    public static final int MAX_PLANES = 8;
    public static final int MEM_ENTRY_SIZE = 16;

    public int type()
    {
        return u32(0);
    }

    public int streamId()
    {
        return u32(4);
    }

    /**
     * @return queue_type of QUERY_CAPABILITY, RESOURCE_*, QUEUE_CLEAR, GET/SET_PARAMS_EXT; control of the control
     *     commands; in_mem_type of STREAM_CREATE.
     */
    public int word8()
    {
        return u32(8);
    }

    /**
     * @return resource_id of RESOURCE_CREATE/QUEUE; out_mem_type of STREAM_CREATE.
     */
    public int word12()
    {
        return u32(12);
    }

    /**
     * @return coded_format of STREAM_CREATE; format of QUERY_CONTROL; planes_layout of RESOURCE_CREATE.
     */
    public int word16()
    {
        return u32(16);
    }

    public int numPlanes()
    {
        return u32(20);
    }

    public int numEntries(final int plane)
    {
        return u32(56 + 4 * plane);
    }

    public long timestamp()
    {
        return u64(16);
    }

    public int numDataSizes()
    {
        return u32(24);
    }

    /**
     * @return field {@code offset} of SET_PARAMS_EXT's virtio_video_params (see {@link Response}'s table).
     */
    public int param(final int offset)
    {
        return u32(8 + offset);
    }

    public int dataSize(final int plane)
    {
        return u32(28 + 4 * plane);
    }
}
