package io.jvhost.device.video;

/**
 * The guest pages of one resource as RESOURCE_CREATE described them, checked by the device to be guest RAM: the
 * memory entries in order, {@code entries[p]} of them for plane {@code p}. Built once per RESOURCE_CREATE (not on
 * the hot path); a back-end keeps it until RESOURCE_DESTROY_ALL or STREAM_DESTROY.
 *
 * @param planes the number of planes, 1 to 8.
 * @param entries how many memory entries each plane has (length {@code planes}).
 * @param addresses the guest physical address of each memory entry.
 * @param lengths the length of each memory entry in bytes (at least 1).
 */
public record VideoResource(int planes, int[] entries, long[] addresses, int[] lengths)
{
    /**
     * @return the total length of all the entries.
     */
    public long size()
    {
        long n = 0;
        for (final int length : lengths)
        {
            n += Integer.toUnsignedLong(length);
        }
        return n;
    }
}
