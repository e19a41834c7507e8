package io.jvhost.virtqueue;

/**
 * Transport-level virtio feature bits (device-specific bits are 0-23 and belong to each device).
 */
public final class VirtioFeatures
{
    public static final int NOTIFY_ON_EMPTY = 24;
    public static final int ANY_LAYOUT = 27;
    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    /** vhost-user's own bit in the same word: VHOST_USER_F_PROTOCOL_FEATURES. */
    public static final int PROTOCOL_FEATURES = 30;
    public static final int VERSION_1 = 32;
    public static final int ACCESS_PLATFORM = 33;
    public static final int RING_PACKED = 34;
    public static final int IN_ORDER = 35;
    public static final int RING_RESET = 40;
    /**
     * What a jvhost device offers on the transport unless it has a reason not to: VERSION_1, indirect descriptors,
     * the event index and NOTIFY_ON_EMPTY (a device adds its own bits 0-23 to it).
     */
    public static final long BASELINE = 1L << VERSION_1 | 1L << RING_INDIRECT_DESC | 1L << RING_EVENT_IDX
        | 1L << NOTIFY_ON_EMPTY;

    private VirtioFeatures()
    {
    }

    /**
     * @return the mask of one bit.
     */
    public static long bit(final int bit)
    {
        return 1L << bit;
    }

    /**
     * @return true when {@code features} has {@code bit} set.
     */
    public static boolean has(final long features, final int bit)
    {
        return (features & (1L << bit)) != 0;
    }
}
