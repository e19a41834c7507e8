package io.jvhost.vhostuser.protocol.gpu;

/**
 * Payload layouts of the vhost-user-gpu display protocol: packed, host byte order, offsets relative to the payload
 * start (the 12-byte header comes first).
 * <pre>
 * CursorPos (12)               0 u32 scanout_id   4 u32 x          8 u32 y
 *
 * CursorUpdate (16 404)        0 CursorPos (12)  12 u32 hot_x     16 u32 hot_y
 *                             20 u32 data[64 * 64]: ARGB32 (PIXMAN_a8r8g8b8: B,G,R,A in memory), rows 256 bytes
 *
 * Scanout (12)                 0 u32 scanout_id   4 u32 width      8 u32 height       (width 0: disable)
 *
 * Update (20 + w*h*4)          0 u32 scanout_id   4 u32 x          8 u32 y
 *                             12 u32 width       16 u32 height    20 u8 data[width * height * 4]
 *                                 data: PIXMAN_x8r8g8b8 (B,G,R,X in memory), stride width * 4, in scanout coordinates
 *
 * DMABUFScanout (40)           0 u32 scanout_id   4 x   8 y   12 width   16 height   20 u32 fd_width
 *                             24 u32 fd_height   28 u32 fd_stride   32 u32 fd_flags (bit 0 Y_0_TOP)
 *                             36 i32 fd_drm_fourcc                                     (+ 1 fd)
 * DMABUFScanout2 (48)          0 DMABUFScanout   40 u64 modifier                       (+ 1 fd)
 *
 * EdidRequest (4)              0 u32 scanout_id
 *
 * u64 (8)                      0 u64 value      (GET_PROTOCOL_FEATURES reply, SET_PROTOCOL_FEATURES)
 *
 * display info reply (408) = struct virtio_gpu_resp_display_info
 *                              0 ctrl_hdr (24): 0 u32 type (0x1101 OK_DISPLAY_INFO) 4 u32 flags 8 u64 fence_id
 *                                               16 u32 ctx_id 20 u8 ring_idx 21 u8 pad[3]
 *                             24 pmodes[16], each 24 bytes at 24 + 24 i:
 *                                 +0 u32 x  +4 u32 y  +8 u32 width  +12 u32 height  +16 u32 enabled  +20 u32 flags
 *
 * EDID reply (1056) = struct virtio_gpu_resp_edid
 *                              0 ctrl_hdr (24, type 0x1104 OK_EDID)
 *                             24 u32 size (bytes of edid used, QEMU: 1024)   28 u32 pad   32 u8 edid[1024]
 * </pre>
 */
public final class GpuPayloads
{
    /** Scanouts the protocol can address (VIRTIO_GPU_MAX_SCANOUTS). */
    public static final int MAX_SCANOUTS = 16;

    public static final int U64_SIZE = 8;

    public static final int CURSOR_POS_SIZE = 12;
    public static final int CURSOR_POS_SCANOUT_ID = 0;
    public static final int CURSOR_POS_X = 4;
    public static final int CURSOR_POS_Y = 8;

    public static final int CURSOR_WIDTH = 64;
    public static final int CURSOR_HEIGHT = 64;
    /** Bytes of cursor image: 64 x 64 ARGB32. */
    public static final int CURSOR_DATA_SIZE = CURSOR_WIDTH * CURSOR_HEIGHT * 4;
    public static final int CURSOR_UPDATE_POS = 0;
    public static final int CURSOR_UPDATE_HOT_X = 12;
    public static final int CURSOR_UPDATE_HOT_Y = 16;
    public static final int CURSOR_UPDATE_DATA = 20;
    public static final int CURSOR_UPDATE_SIZE = CURSOR_UPDATE_DATA + CURSOR_DATA_SIZE;

    public static final int SCANOUT_SIZE = 12;
    public static final int SCANOUT_SCANOUT_ID = 0;
    public static final int SCANOUT_WIDTH = 4;
    public static final int SCANOUT_HEIGHT = 8;

    public static final int UPDATE_SCANOUT_ID = 0;
    public static final int UPDATE_X = 4;
    public static final int UPDATE_Y = 8;
    public static final int UPDATE_WIDTH = 12;
    public static final int UPDATE_HEIGHT = 16;
    public static final int UPDATE_DATA = 20;
    /** The Update payload before its pixels. */
    public static final int UPDATE_HEADER_SIZE = 20;

    public static final int DMABUF_SCANOUT_SIZE = 40;
    public static final int DMABUF_SCANOUT2_SIZE = 48;

    public static final int EDID_REQUEST_SIZE = 4;
    public static final int EDID_REQUEST_SCANOUT_ID = 0;

    /** struct virtio_gpu_ctrl_hdr. */
    public static final int CTRL_HDR_SIZE = 24;
    public static final int CTRL_HDR_TYPE = 0;
    /** VIRTIO_GPU_RESP_OK_DISPLAY_INFO. */
    public static final int RESP_OK_DISPLAY_INFO = 0x1101;
    /** VIRTIO_GPU_RESP_OK_EDID. */
    public static final int RESP_OK_EDID = 0x1104;

    public static final int DISPLAY_INFO_PMODES = 24;
    public static final int PMODE_SIZE = 24;
    public static final int PMODE_X = 0;
    public static final int PMODE_Y = 4;
    public static final int PMODE_WIDTH = 8;
    public static final int PMODE_HEIGHT = 12;
    public static final int PMODE_ENABLED = 16;
    public static final int PMODE_FLAGS = 20;
    public static final int DISPLAY_INFO_SIZE = DISPLAY_INFO_PMODES + MAX_SCANOUTS * PMODE_SIZE;

    public static final int EDID_REPLY_SIZE_FIELD = 24;
    public static final int EDID_REPLY_DATA = 32;
    /** Largest EDID the reply carries. */
    public static final int EDID_MAX_SIZE = 1024;
    public static final int EDID_REPLY_SIZE = EDID_REPLY_DATA + EDID_MAX_SIZE;

    private GpuPayloads()
    {
    }

    /**
     * @return the payload offset of display-info mode {@code i}.
     */
    public static int pmodeOffset(final int i)
    {
        return DISPLAY_INFO_PMODES + i * PMODE_SIZE;
    }

    /**
     * @return the payload size of an UPDATE carrying a {@code width}×{@code height} rectangle.
     */
    public static long updateSize(final int width, final int height)
    {
        return UPDATE_HEADER_SIZE + 4L * width * height;
    }

    /**
     * @return the payload size QEMU expects for a back-end request, or -1 when it depends on the content (UPDATE)
     *     or the id is unknown.
     */
    public static int requestSize(final int request)
    {
        return switch (request)
        {
            case GpuRequest.GET_PROTOCOL_FEATURES, GpuRequest.GET_DISPLAY_INFO -> 0;
            case GpuRequest.SET_PROTOCOL_FEATURES -> U64_SIZE;
            case GpuRequest.CURSOR_POS, GpuRequest.CURSOR_POS_HIDE -> CURSOR_POS_SIZE;
            case GpuRequest.CURSOR_UPDATE -> CURSOR_UPDATE_SIZE;
            case GpuRequest.SCANOUT -> SCANOUT_SIZE;
            case GpuRequest.DMABUF_SCANOUT -> DMABUF_SCANOUT_SIZE;
            case GpuRequest.DMABUF_UPDATE -> UPDATE_HEADER_SIZE;
            case GpuRequest.GET_EDID -> EDID_REQUEST_SIZE;
            case GpuRequest.DMABUF_SCANOUT2 -> DMABUF_SCANOUT2_SIZE;
            default -> -1;
        };
    }

    /**
     * @return the payload size of QEMU's reply to {@code request}, or -1 when it sends none.
     */
    public static int replySize(final int request)
    {
        return switch (request)
        {
            case GpuRequest.GET_PROTOCOL_FEATURES -> U64_SIZE;
            case GpuRequest.GET_DISPLAY_INFO -> DISPLAY_INFO_SIZE;
            case GpuRequest.GET_EDID -> EDID_REPLY_SIZE;
            case GpuRequest.DMABUF_UPDATE -> 0;
            default -> -1;
        };
    }
}
