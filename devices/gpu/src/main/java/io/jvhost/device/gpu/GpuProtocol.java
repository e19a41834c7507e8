package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * virtio-gpu wire constants and little-endian accessors (virtio 1.x: everything in guest memory is little-endian).
 * <p>
 * Every request and response starts with the control header:
 * <pre>
 *   0        4        8                16       20   21       24
 *   +--------+--------+----------------+--------+----+--------+
 *   | type   | flags  | fence_id (u64) | ctx_id |ring| pad[3] |
 *   +--------+--------+----------------+--------+----+--------+
 *   flags: bit 0 FENCE (answer with the same fence_id/ctx_id, after completion)
 *          bit 1 INFO_RING_IDX (ring_idx is valid; only meaningful with FENCE)
 * </pre>
 * A {@code rect} is {@code u32 x, y, width, height} (16 bytes). Offsets below are from the start of the request.
 */
public final class GpuProtocol
{
    /** virtio device ID of a GPU. */
    public static final int DEVICE_TYPE = 16;
    public static final int CONTROL_QUEUE = 0;
    public static final int CURSOR_QUEUE = 1;
    public static final int MAX_SCANOUTS = 16;

    // Feature bits (device-specific, 0-23).
    public static final int F_VIRGL = 0;
    public static final int F_EDID = 1;
    public static final int F_RESOURCE_UUID = 2;
    public static final int F_RESOURCE_BLOB = 3;
    public static final int F_CONTEXT_INIT = 4;

    /** events_read / events_clear bit: the display configuration changed. */
    public static final int EVENT_DISPLAY = 1;

    // 2D commands.
    public static final int CMD_GET_DISPLAY_INFO = 0x0100;
    public static final int CMD_RESOURCE_CREATE_2D = 0x0101;
    public static final int CMD_RESOURCE_UNREF = 0x0102;
    public static final int CMD_SET_SCANOUT = 0x0103;
    public static final int CMD_RESOURCE_FLUSH = 0x0104;
    public static final int CMD_TRANSFER_TO_HOST_2D = 0x0105;
    public static final int CMD_RESOURCE_ATTACH_BACKING = 0x0106;
    public static final int CMD_RESOURCE_DETACH_BACKING = 0x0107;
    public static final int CMD_GET_CAPSET_INFO = 0x0108;
    public static final int CMD_GET_CAPSET = 0x0109;
    public static final int CMD_GET_EDID = 0x010a;
    public static final int CMD_RESOURCE_ASSIGN_UUID = 0x010b;
    public static final int CMD_RESOURCE_CREATE_BLOB = 0x010c;
    public static final int CMD_SET_SCANOUT_BLOB = 0x010d;
    // 3D commands: CTX_CREATE .. RESOURCE_UNMAP_BLOB.
    public static final int CMD_CTX_CREATE = 0x0200;
    public static final int CMD_CTX_DESTROY = 0x0201;
    public static final int CMD_CTX_ATTACH_RESOURCE = 0x0202;
    public static final int CMD_CTX_DETACH_RESOURCE = 0x0203;
    public static final int CMD_RESOURCE_CREATE_3D = 0x0204;
    public static final int CMD_TRANSFER_TO_HOST_3D = 0x0205;
    public static final int CMD_TRANSFER_FROM_HOST_3D = 0x0206;
    public static final int CMD_SUBMIT_3D = 0x0207;
    public static final int CMD_RESOURCE_UNMAP_BLOB = 0x0209;
    // Cursor queue.
    public static final int CMD_UPDATE_CURSOR = 0x0300;
    public static final int CMD_MOVE_CURSOR = 0x0301;

    // Responses.
    public static final int RESP_OK_NODATA = 0x1100;
    public static final int RESP_OK_DISPLAY_INFO = 0x1101;
    public static final int RESP_OK_CAPSET_INFO = 0x1102;
    public static final int RESP_OK_CAPSET = 0x1103;
    public static final int RESP_OK_EDID = 0x1104;
    public static final int RESP_OK_RESOURCE_UUID = 0x1105;
    public static final int RESP_OK_MAP_INFO = 0x1106;
    public static final int RESP_ERR_UNSPEC = 0x1200;
    public static final int RESP_ERR_OUT_OF_MEMORY = 0x1201;
    public static final int RESP_ERR_INVALID_SCANOUT_ID = 0x1202;
    public static final int RESP_ERR_INVALID_RESOURCE_ID = 0x1203;
    public static final int RESP_ERR_INVALID_CONTEXT_ID = 0x1204;
    public static final int RESP_ERR_INVALID_PARAMETER = 0x1205;

    public static final int FLAG_FENCE = 1;
    public static final int FLAG_INFO_RING_IDX = 2;

    public static final int BLOB_MEM_GUEST = 1;
    public static final int BLOB_MEM_HOST3D = 2;
    public static final int BLOB_MEM_HOST3D_GUEST = 3;

    // ctrl_hdr.
    public static final int HDR_TYPE = 0;
    public static final int HDR_FLAGS = 4;
    public static final int HDR_FENCE_ID = 8;
    public static final int HDR_CTX_ID = 16;
    public static final int HDR_RING_IDX = 20;
    public static final int HDR_SIZE = 24;

    // rect, relative to where it sits.
    public static final int RECT_X = 0;
    public static final int RECT_Y = 4;
    public static final int RECT_WIDTH = 8;
    public static final int RECT_HEIGHT = 12;
    public static final int RECT_SIZE = 16;

    /**
     * RESOURCE_CREATE_2D (40 bytes).
     * <pre>
     *   24 resource_id | 28 format | 32 width | 36 height
     * </pre>
     */
    public static final int CREATE_2D_RESOURCE_ID = 24;
    public static final int CREATE_2D_FORMAT = 28;
    public static final int CREATE_2D_WIDTH = 32;
    public static final int CREATE_2D_HEIGHT = 36;
    public static final int CREATE_2D_SIZE = 40;

    /**
     * RESOURCE_UNREF, RESOURCE_DETACH_BACKING, RESOURCE_ASSIGN_UUID (32 bytes).
     * <pre>
     *   24 resource_id | 28 pad
     * </pre>
     */
    public static final int RESOURCE_ID = 24;
    public static final int RESOURCE_CMD_SIZE = 32;

    /**
     * SET_SCANOUT (48 bytes).
     * <pre>
     *   24 rect r (16) | 40 scanout_id | 44 resource_id
     * </pre>
     */
    public static final int SET_SCANOUT_RECT = 24;
    public static final int SET_SCANOUT_SCANOUT_ID = 40;
    public static final int SET_SCANOUT_RESOURCE_ID = 44;
    public static final int SET_SCANOUT_SIZE = 48;

    /**
     * RESOURCE_FLUSH (48 bytes).
     * <pre>
     *   24 rect r (16) | 40 resource_id | 44 pad
     * </pre>
     */
    public static final int FLUSH_RECT = 24;
    public static final int FLUSH_RESOURCE_ID = 40;
    public static final int FLUSH_SIZE = 48;

    /**
     * TRANSFER_TO_HOST_2D (56 bytes).
     * <pre>
     *   24 rect r (16) | 40 u64 offset | 48 resource_id | 52 pad
     * </pre>
     */
    public static final int TRANSFER_RECT = 24;
    public static final int TRANSFER_OFFSET = 40;
    public static final int TRANSFER_RESOURCE_ID = 48;
    public static final int TRANSFER_SIZE = 56;

    /**
     * RESOURCE_ATTACH_BACKING (32 bytes + 16 per entry; the entries usually sit in their own descriptor(s)).
     * <pre>
     *   24 resource_id | 28 nr_entries | 32 mem_entry[nr_entries]
     *   mem_entry: 0 u64 addr (guest-physical) | 8 u32 length | 12 pad
     * </pre>
     */
    public static final int ATTACH_RESOURCE_ID = 24;
    public static final int ATTACH_NR_ENTRIES = 28;
    public static final int ATTACH_SIZE = 32;
    public static final int MEM_ENTRY_ADDR = 0;
    public static final int MEM_ENTRY_LENGTH = 8;
    public static final int MEM_ENTRY_SIZE = 16;
    /** QEMU's bound on nr_entries. */
    public static final int MAX_MEM_ENTRIES = 16384;

    /**
     * GET_EDID (32 bytes) and its response (1056 bytes).
     * <pre>
     *   request:  24 scanout | 28 pad
     *   response: 24 u32 size | 28 pad | 32 u8 edid[1024]
     * </pre>
     */
    public static final int GET_EDID_SCANOUT = 24;
    public static final int GET_EDID_SIZE = 32;
    public static final int EDID_RESP_SIZE_FIELD = 24;
    public static final int EDID_RESP_DATA = 32;
    public static final int EDID_MAX_BYTES = 1024;
    public static final int EDID_RESP_SIZE = EDID_RESP_DATA + EDID_MAX_BYTES;

    /**
     * GET_DISPLAY_INFO response (408 bytes): 16 pmodes of 24 bytes from offset 24.
     * <pre>
     *   24 + 24i: rect r (16) | +16 enabled | +20 flags
     * </pre>
     */
    public static final int DISPLAY_INFO_MODES = 24;
    public static final int DISPLAY_ONE_SIZE = 24;
    public static final int DISPLAY_ONE_ENABLED = 16;
    public static final int DISPLAY_ONE_FLAGS = 20;
    public static final int DISPLAY_INFO_SIZE = DISPLAY_INFO_MODES + MAX_SCANOUTS * DISPLAY_ONE_SIZE;

    /**
     * RESOURCE_ASSIGN_UUID response (40 bytes): {@code 24 u8 uuid[16]}.
     */
    public static final int UUID_RESP_UUID = 24;
    public static final int UUID_RESP_SIZE = 40;

    /**
     * RESOURCE_CREATE_BLOB (56 bytes + 16 per entry).
     * <pre>
     *   24 resource_id | 28 blob_mem | 32 blob_flags | 36 nr_entries | 40 u64 blob_id | 48 u64 size
     *   56 mem_entry[nr_entries]
     * </pre>
     */
    public static final int BLOB_RESOURCE_ID = 24;
    public static final int BLOB_MEM = 28;
    public static final int BLOB_FLAGS = 32;
    public static final int BLOB_NR_ENTRIES = 36;
    public static final int BLOB_ID = 40;
    public static final int BLOB_SIZE = 48;
    public static final int CREATE_BLOB_SIZE = 56;

    /**
     * SET_SCANOUT_BLOB (96 bytes).
     * <pre>
     *   24 rect r (16) | 40 scanout_id | 44 resource_id | 48 width | 52 height | 56 format | 60 pad
     *   64 u32 strides[4] | 80 u32 offsets[4]
     * </pre>
     */
    public static final int SCANOUT_BLOB_RECT = 24;
    public static final int SCANOUT_BLOB_SCANOUT_ID = 40;
    public static final int SCANOUT_BLOB_RESOURCE_ID = 44;
    public static final int SCANOUT_BLOB_WIDTH = 48;
    public static final int SCANOUT_BLOB_HEIGHT = 52;
    public static final int SCANOUT_BLOB_FORMAT = 56;
    public static final int SCANOUT_BLOB_STRIDES = 64;
    public static final int SCANOUT_BLOB_OFFSETS = 80;
    public static final int SET_SCANOUT_BLOB_SIZE = 96;

    /**
     * UPDATE_CURSOR / MOVE_CURSOR on the cursor queue (56 bytes, no response).
     * <pre>
     *   24 pos { scanout_id | 28 x | 32 y | 36 pad } | 40 resource_id | 44 hot_x | 48 hot_y | 52 pad
     * </pre>
     */
    public static final int CURSOR_SCANOUT_ID = 24;
    public static final int CURSOR_X = 28;
    public static final int CURSOR_Y = 32;
    public static final int CURSOR_RESOURCE_ID = 40;
    public static final int CURSOR_HOT_X = 44;
    public static final int CURSOR_HOT_Y = 48;
    public static final int CURSOR_CMD_SIZE = 56;
    /** The only cursor size virtio-gpu knows. */
    public static final int CURSOR_SIZE = 64;

    /**
     * Config space (16 bytes).
     * <pre>
     *   0 events_read | 4 events_clear (write 1 to clear) | 8 num_scanouts | 12 num_capsets
     * </pre>
     */
    public static final int CONFIG_EVENTS_READ = 0;
    public static final int CONFIG_EVENTS_CLEAR = 4;
    public static final int CONFIG_NUM_SCANOUTS = 8;
    public static final int CONFIG_NUM_CAPSETS = 12;
    public static final int CONFIG_SIZE = 16;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private GpuProtocol()
    {
    }

    /**
     * @return the little-endian u32 at {@code offset}, zero-extended.
     */
    public static long u32(final MemorySegment segment, final long offset)
    {
        return segment.get(U32, offset) & 0xFFFF_FFFFL;
    }

    /**
     * @return the little-endian u32 at {@code offset} as a Java int (for ids and flags compared for equality).
     */
    public static int i32(final MemorySegment segment, final long offset)
    {
        return segment.get(U32, offset);
    }

    /**
     * @return the little-endian u64 at {@code offset} (values ≥ 2^63 come back negative).
     */
    public static long u64(final MemorySegment segment, final long offset)
    {
        return segment.get(U64, offset);
    }

    /**
     * Stores a little-endian u32.
     */
    public static void putU32(final MemorySegment segment, final long offset, final int value)
    {
        segment.set(U32, offset, value);
    }

    /**
     * Stores a little-endian u64.
     */
    public static void putU64(final MemorySegment segment, final long offset, final long value)
    {
        segment.set(U64, offset, value);
    }

    /**
     * @return a name for a command or response code, for logs.
     */
    public static String name(final int type)
    {
        return switch (type)
        {
            case CMD_GET_DISPLAY_INFO -> "GET_DISPLAY_INFO";
            case CMD_RESOURCE_CREATE_2D -> "RESOURCE_CREATE_2D";
            case CMD_RESOURCE_UNREF -> "RESOURCE_UNREF";
            case CMD_SET_SCANOUT -> "SET_SCANOUT";
            case CMD_RESOURCE_FLUSH -> "RESOURCE_FLUSH";
            case CMD_TRANSFER_TO_HOST_2D -> "TRANSFER_TO_HOST_2D";
            case CMD_RESOURCE_ATTACH_BACKING -> "RESOURCE_ATTACH_BACKING";
            case CMD_RESOURCE_DETACH_BACKING -> "RESOURCE_DETACH_BACKING";
            case CMD_GET_CAPSET_INFO -> "GET_CAPSET_INFO";
            case CMD_GET_CAPSET -> "GET_CAPSET";
            case CMD_GET_EDID -> "GET_EDID";
            case CMD_RESOURCE_ASSIGN_UUID -> "RESOURCE_ASSIGN_UUID";
            case CMD_RESOURCE_CREATE_BLOB -> "RESOURCE_CREATE_BLOB";
            case CMD_SET_SCANOUT_BLOB -> "SET_SCANOUT_BLOB";
            case CMD_CTX_CREATE -> "CTX_CREATE";
            case CMD_CTX_DESTROY -> "CTX_DESTROY";
            case CMD_CTX_ATTACH_RESOURCE -> "CTX_ATTACH_RESOURCE";
            case CMD_CTX_DETACH_RESOURCE -> "CTX_DETACH_RESOURCE";
            case CMD_RESOURCE_CREATE_3D -> "RESOURCE_CREATE_3D";
            case CMD_TRANSFER_TO_HOST_3D -> "TRANSFER_TO_HOST_3D";
            case CMD_TRANSFER_FROM_HOST_3D -> "TRANSFER_FROM_HOST_3D";
            case CMD_SUBMIT_3D -> "SUBMIT_3D";
            case CMD_UPDATE_CURSOR -> "UPDATE_CURSOR";
            case CMD_MOVE_CURSOR -> "MOVE_CURSOR";
            case RESP_OK_NODATA -> "OK_NODATA";
            case RESP_OK_DISPLAY_INFO -> "OK_DISPLAY_INFO";
            case RESP_OK_CAPSET_INFO -> "OK_CAPSET_INFO";
            case RESP_OK_CAPSET -> "OK_CAPSET";
            case RESP_OK_EDID -> "OK_EDID";
            case RESP_OK_RESOURCE_UUID -> "OK_RESOURCE_UUID";
            case RESP_ERR_UNSPEC -> "ERR_UNSPEC";
            case RESP_ERR_OUT_OF_MEMORY -> "ERR_OUT_OF_MEMORY";
            case RESP_ERR_INVALID_SCANOUT_ID -> "ERR_INVALID_SCANOUT_ID";
            case RESP_ERR_INVALID_RESOURCE_ID -> "ERR_INVALID_RESOURCE_ID";
            case RESP_ERR_INVALID_CONTEXT_ID -> "ERR_INVALID_CONTEXT_ID";
            case RESP_ERR_INVALID_PARAMETER -> "ERR_INVALID_PARAMETER";
            default -> type >= CMD_CTX_CREATE && type <= CMD_RESOURCE_UNMAP_BLOB
                ? "3D command 0x" + Integer.toHexString(type)
                : "0x" + Integer.toHexString(type);
        };
    }
}
