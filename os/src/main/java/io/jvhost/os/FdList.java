package io.jvhost.os;

import java.util.Arrays;

/**
 * A reusable list of file descriptors received with one message (SCM_RIGHTS). Descriptors not {@link #take taken}
 * by the message handler are closed by {@link #closeRemaining()}, so none leak whatever the handler does.
 */
public final class FdList
{
    /** The most descriptors one vhost-user message may carry. */
    public static final int MAX_FDS = 32;

    private final int[] fds = new int[MAX_FDS];
    private int count;
    private int dropped;

    /**
     * @return how many descriptors arrived.
     */
    public int count()
    {
        return count;
    }

    /**
     * @return how many arrived beyond {@link #MAX_FDS} or truncated, and were closed on receipt.
     */
    public int dropped()
    {
        return dropped;
    }

    /**
     * @return descriptor {@code i} without taking ownership, or -1 if absent or taken.
     */
    public int peek(final int i)
    {
        return i < count ? fds[i] : -1;
    }

    /**
     * Takes ownership of descriptor {@code i}: it will not be closed by {@link #closeRemaining()}.
     *
     * @return the descriptor, or -1 if absent or already taken.
     */
    public int take(final int i)
    {
        if (i >= count)
        {
            return -1;
        }
        final int fd = fds[i];
        fds[i] = -1;
        return fd;
    }

    /**
     * Appends a descriptor (receive side). Past {@link #MAX_FDS} it is closed at once.
     */
    public void add(final int fd)
    {
        if (count < MAX_FDS)
        {
            fds[count++] = fd;
        }
        else
        {
            dropped++;
            LibC.closeQuietly(fd);
        }
    }

    /**
     * Records that the kernel truncated the control data (MSG_CTRUNC): some descriptors never arrived.
     */
    public void markTruncated()
    {
        dropped++;
    }

    /**
     * Closes every descriptor not taken and empties the list.
     */
    public void closeRemaining()
    {
        for (int i = 0; i < count; i++)
        {
            LibC.closeQuietly(fds[i]);
            fds[i] = -1;
        }
        count = 0;
        dropped = 0;
    }

    @Override
    public String toString()
    {
        return "FdList" + Arrays.toString(Arrays.copyOf(fds, count));
    }
}
