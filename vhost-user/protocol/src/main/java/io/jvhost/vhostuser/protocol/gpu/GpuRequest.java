package io.jvhost.vhostuser.protocol.gpu;

/**
 * Message ids of the vhost-user-gpu display protocol ({@code docs/interop/vhost-user-gpu.rst}): the socket QEMU hands
 * a GPU back-end with {@code VHOST_USER_GPU_SET_SOCKET}. The back-end sends requests; QEMU answers only
 * GET_PROTOCOL_FEATURES, GET_DISPLAY_INFO, GET_EDID and DMABUF_UPDATE.
 * <p>
 * The 12-byte header is laid out like vhost-user's ({@link io.jvhost.vhostuser.protocol.MessageHeader}) but carries
 * <b>no version bits</b>: requests have {@code flags = 0} ({@link #REQUEST_FLAGS}), replies {@code flags = 0x4}
 * ({@link #REPLY_FLAGS}). A vhost-user parser that checks the version rejects them.
 * <pre>
 *  0               4               8               12
 *  +---------------+---------------+---------------+---- payload (size bytes) ----
 *  | u32 request   | u32 flags     | u32 size      |
 *  +---------------+---------------+---------------+
 *  flags: 0 on requests, 0x4 (REPLY) on replies; host byte order
 * </pre>
 */
public final class GpuRequest
{
    public static final int GET_PROTOCOL_FEATURES = 1;
    public static final int SET_PROTOCOL_FEATURES = 2;
    public static final int GET_DISPLAY_INFO = 3;
    public static final int CURSOR_POS = 4;
    public static final int CURSOR_POS_HIDE = 5;
    public static final int CURSOR_UPDATE = 6;
    public static final int SCANOUT = 7;
    public static final int UPDATE = 8;
    public static final int DMABUF_SCANOUT = 9;
    public static final int DMABUF_UPDATE = 10;
    public static final int GET_EDID = 11;
    public static final int DMABUF_SCANOUT2 = 12;

    /** The highest message id defined. */
    public static final int MAX_ID = DMABUF_SCANOUT2;

    /** Header flags of every back-end request: no version bits. */
    public static final int REQUEST_FLAGS = 0;
    /** Header flags of every QEMU reply: REPLY only. */
    public static final int REPLY_FLAGS = 0x4;

    private static final String[] NAMES = {
        null, "GET_PROTOCOL_FEATURES", "SET_PROTOCOL_FEATURES", "GET_DISPLAY_INFO", "CURSOR_POS", "CURSOR_POS_HIDE",
        "CURSOR_UPDATE", "SCANOUT", "UPDATE", "DMABUF_SCANOUT", "DMABUF_UPDATE", "GET_EDID", "DMABUF_SCANOUT2"};

    private GpuRequest()
    {
    }

    /**
     * @return the message's name, or {@code UNKNOWN(n)}.
     */
    public static String name(final int request)
    {
        return request > 0 && request < NAMES.length ? NAMES[request] : "UNKNOWN(" + request + ")";
    }

    /**
     * @return true for the requests QEMU answers with a reply message.
     */
    public static boolean hasReply(final int request)
    {
        return switch (request)
        {
            case GET_PROTOCOL_FEATURES, GET_DISPLAY_INFO, GET_EDID, DMABUF_UPDATE -> true;
            default -> false;
        };
    }
}
