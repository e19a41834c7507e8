package io.jvhost.vhostuser.protocol;

/**
 * Request codes a vhost-user back-end sends to its front-end on the back-end channel (SET_BACKEND_REQ_FD;
 * vhost-user.rst, "Back-end message types"). The front-end answers one only when NEED_REPLY is set (REPLY_ACK): a u64,
 * 0 for success.
 */
public final class BackendRequest
{
    public static final int IOTLB_MSG = 1;
    /** The device's config space changed: the front-end raises the config interrupt. No payload. */
    public static final int CONFIG_CHANGE_MSG = 2;
    public static final int VRING_HOST_NOTIFIER_MSG = 3;
    public static final int VRING_CALL = 4;
    public static final int VRING_ERR = 5;
    public static final int SHARED_OBJECT_ADD = 6;
    public static final int SHARED_OBJECT_REMOVE = 7;
    public static final int SHARED_OBJECT_LOOKUP = 8;

    private static final String[] NAMES = {
        null, "IOTLB_MSG", "CONFIG_CHANGE_MSG", "VRING_HOST_NOTIFIER_MSG", "VRING_CALL", "VRING_ERR",
        "SHARED_OBJECT_ADD", "SHARED_OBJECT_REMOVE", "SHARED_OBJECT_LOOKUP"};

    private BackendRequest()
    {
    }

    /**
     * @return the request's name, or {@code UNKNOWN(n)}.
     */
    public static String name(final int request)
    {
        return request > 0 && request < NAMES.length ? NAMES[request] : "UNKNOWN(" + request + ")";
    }
}
