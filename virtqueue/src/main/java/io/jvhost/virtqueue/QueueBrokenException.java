package io.jvhost.virtqueue;

/**
 * The ring itself is inconsistent (e.g. the driver moved avail.idx by more than the queue size). The queue stops
 * being processed until it is reconfigured; this is the virtio "device needs reset" condition.
 */
public final class QueueBrokenException extends Exception
{
    private static final long serialVersionUID = 1L;

    public QueueBrokenException(final String message)
    {
        super(message);
    }
}
