package io.jvhost.virtqueue;

/**
 * A descriptor chain the driver made that breaks the rules (loop, too long, out of memory, bad order...).
 * <p>
 * {@link #head()} is the chain's head index when it is valid, so the device can still return the chain to the
 * driver with zero bytes written; it is -1 when the head itself was out of range (nothing can be returned).
 */
public final class InvalidChainException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final int head;

    public InvalidChainException(final int head, final String message)
    {
        // No stack trace: a hostile guest can make these as fast as it can write descriptors, and the message says
        // everything (the throw site is always SplitQueue.pop).
        super(message, null, false, false);
        this.head = head;
    }

    /**
     * @return the head descriptor index, or -1 if it was invalid.
     */
    public int head()
    {
        return head;
    }
}
