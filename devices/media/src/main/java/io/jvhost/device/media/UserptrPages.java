package io.jvhost.device.media;

import io.jvhost.memory.GuestMemory;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;

/**
 * The guest pages behind each USERPTR buffer of a session: the SG entries that follow a QBUF's
 * {@code struct v4l2_buffer} in the driver's chain, checked and kept per buffer index until the buffer is queued
 * again.
 * <pre>
 *   0                  8         12        16
 *   +------------------+---------+---------+
 *   | start (le64 GPA) | le32 len| padding |   one entry, repeated until the entries cover the buffer's length
 *   +------------------+---------+---------+
 * </pre>
 * Fixed arrays sized once: reading entries allocates nothing.
 */
final class UserptrPages
{
    /** The bytes of one SG entry in the chain. */
    static final int ENTRY_SIZE = 16;

    private final int maxEntries;
    private final int[] count;
    private final long[] address;
    private final int[] length;

    /**
     * @param buffers    the most buffers a session has.
     * @param maxEntries the most SG entries a buffer may have.
     */
    UserptrPages(final int buffers, final int maxEntries)
    {
        this.maxEntries = maxEntries;
        this.count = new int[buffers];
        this.address = new long[buffers * maxEntries];
        this.length = new int[buffers * maxEntries];
    }

    /**
     * Reads, from {@code rest}, the SG entries that cover {@code bytes} bytes of buffer {@code index}, and keeps them
     * as that buffer's pages.
     *
     * @return 0; EINVAL when more than the most entries are needed, an entry is cut short or has length 0, or the
     *     chain cannot be read; EFAULT when an entry is not inside {@code memory}. On an error the buffer's pages
     *     are not to be used (the caller leaves it unqueued).
     */
    int read(final int index, final long bytes, final ChainReader rest, final GuestMemory memory)
    {
        final int base = index * maxEntries;
        long covered = 0;
        int n = 0;
        try
        {
            while (covered < bytes)
            {
                if (n == maxEntries || rest.remaining() < ENTRY_SIZE)
                {
                    return Errno.EINVAL;
                }
                final long start = rest.readLong();
                final long len = Integer.toUnsignedLong(rest.readInt());
                rest.readInt();
                if (len == 0)
                {
                    return Errno.EINVAL;
                }
                if (!memory.isValidRange(start, len))
                {
                    return Errno.EFAULT;
                }
                address[base + n] = start;
                length[base + n] = (int)len;
                covered += len;
                n++;
            }
        }
        catch (final ChainAccessException e)
        {
            return Errno.EINVAL;
        }
        count[index] = n;
        return 0;
    }

    /** Forgets buffer {@code index}'s pages. */
    void clear(final int index)
    {
        count[index] = 0;
    }

    /**
     * @return how many SG entries buffer {@code index} has.
     */
    int count(final int index)
    {
        return count[index];
    }

    /**
     * @return the guest-physical start of entry {@code entry} of buffer {@code index}.
     */
    long address(final int index, final int entry)
    {
        return address[index * maxEntries + entry];
    }

    /**
     * @return the length in bytes of entry {@code entry} of buffer {@code index} (unsigned, at most 2^32 - 1).
     */
    long length(final int index, final int entry)
    {
        return Integer.toUnsignedLong(length[index * maxEntries + entry]);
    }
}
