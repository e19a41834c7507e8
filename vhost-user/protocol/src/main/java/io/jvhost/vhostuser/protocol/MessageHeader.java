package io.jvhost.vhostuser.protocol;

/**
 * The 12-byte header that starts every vhost-user message, in host byte order.
 * <pre>
 *  0               4               8               12
 *  +---------------+---------------+---------------+---- payload (size bytes) ----
 *  | u32 request   | u32 flags     | u32 size      |
 *  +---------------+---------------+---------------+
 *  flags: bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY
 * </pre>
 */
public final class MessageHeader
{
    public static final int REQUEST_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int SIZE_OFFSET = 8;
    public static final int LENGTH = 12;

    public static final int VERSION_MASK = 0x3;
    public static final int VERSION = 0x1;
    public static final int REPLY = 0x4;
    public static final int NEED_REPLY = 0x8;
    /** The only flags value QEMU accepts on a reply. */
    public static final int REPLY_FLAGS = VERSION | REPLY;

    /** Largest payload we accept from a front-end: more than any request needs (SET_MEM_TABLE is 264 bytes). */
    public static final int MAX_PAYLOAD = 4096;

    private MessageHeader()
    {
    }
}
