package io.jvhost.device;

import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * A running virtqueue as a device sees it, valid only during {@link VirtioDevice#processQueue}.
 */
public interface DeviceQueue
{
    /**
     * @return the queue index.
     */
    int index();

    /**
     * @return the queue size the driver chose.
     */
    int size();

    /**
     * @return the next valid chain (a reused object: complete it before asking for another), or null when the ring
     *     is empty or this batch's budget is used up. Invalid chains never reach the device: they are returned to
     *     the driver with nothing written, and logged.
     */
    DescriptorChain next();

    /**
     * Returns a chain to the driver with {@code written} bytes written into its writable part.
     */
    void complete(DescriptorChain chain, long written);

    /**
     * Puts the last {@code count} chains taken back on the ring untaken (see {@code SplitQueue.rewind}): meant for
     * {@link VirtioDevice#queueStopping}, where the ring's state is reported right after, so the front-end restarts
     * the ring at the first of them and the device (this one, or the next) reads them again. Only for chains the
     * device still holds, none completed, taken one after the other with nothing taken after them: the device checks
     * that it holds {@code count} chains whose {@link DescriptorChain#availIndex()} run from {@code availIndex} on;
     * the queue checks that nothing was taken after them.
     *
     * @param availIndex the oldest held chain's {@link DescriptorChain#availIndex()}.
     * @return false, changing nothing, when they are not the last {@code count} chains taken (the device then gives
     *     them back with {@link #complete}).
     */
    default boolean rewind(final int availIndex, final int count)
    {
        return false;
    }

    /**
     * Asks to be called again after {@code nanos} even without a kick (e.g. a rate limit): stop taking chains now.
     * Chains already available stay in the ring.
     */
    void retryAfter(long nanos);

    /**
     * As {@link #retryAfter}, for a device that looks at the ring at that call anyway (a sound stream's next message
     * due): the driver is asked not to kick meanwhile, so the chains it adds wait in the ring until then, instead of
     * each waking the worker for nothing. Ask for it only when a chain added meanwhile can wait that long.
     */
    default void pollAfter(final long nanos)
    {
        retryAfter(nanos);
    }

    /**
     * @return the guest memory the queue is bound to, for addresses carried inside requests.
     */
    GuestMemory memory();

    /**
     * @return the features the driver accepted.
     */
    long ackedFeatures();
}
