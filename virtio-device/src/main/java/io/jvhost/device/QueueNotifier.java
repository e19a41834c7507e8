package io.jvhost.device;

/**
 * How a transport tells the driver that used buffers are ready (vhost-user: write the call eventfd).
 */
@FunctionalInterface
public interface QueueNotifier
{
    /**
     * Raises the queue's interrupt.
     */
    void notifyUsed();
}
