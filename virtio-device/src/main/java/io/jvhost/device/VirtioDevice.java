package io.jvhost.device;

import java.lang.foreign.MemorySegment;

/**
 * A virtio device's logic, independent of how it is attached to a VMM.
 * <p>
 * The same implementation runs behind the vhost-user back-end daemon or embedded in a Java VMM: it sees virtqueues
 * through {@link DeviceQueue} (validated descriptor chains, bounds-checked guest memory), never a socket or a raw
 * address. The transport calls {@link #processQueue} on a worker thread when the driver kicks a queue; queues that
 * share a worker (see {@link #queueWorker}) are never processed concurrently.
 */
public interface VirtioDevice
{
    /**
     * @return the virtio device ID (e.g. 4 for entropy, 16 for GPU).
     */
    int deviceType();

    /**
     * @return a short name for logs and capabilities, e.g. {@code rng}.
     */
    String name();

    /**
     * @return the number of virtqueues.
     */
    int queueCount();

    /**
     * @return the largest queue size the device accepts (a power of two).
     */
    int maxQueueSize();

    /**
     * @return the virtio feature bits offered: device-specific bits plus the transport bits the device handles
     *     (VERSION_1 is required; the ring features INDIRECT_DESC, EVENT_IDX, NOTIFY_ON_EMPTY are implemented by the
     *     queue layer and may be offered by any device).
     */
    long features();

    /**
     * A driver connected: the context stays valid until {@link #reset()} (which ends the connection's use of it).
     */
    default void attach(final DeviceContext context)
    {
    }

    /**
     * Called with the features the driver accepted before any queue starts.
     */
    default void featuresAcked(final long features)
    {
    }

    /**
     * @return the size of the device's configuration space in bytes (0 when it has none).
     */
    default int configSize()
    {
        return 0;
    }

    /**
     * Reads configuration space; the transport has already checked that the range lies inside {@link #configSize}.
     */
    default void readConfig(final int offset, final MemorySegment dst)
    {
    }

    /**
     * Writes configuration space; the range is inside {@link #configSize}.
     */
    default void writeConfig(final int offset, final MemorySegment src)
    {
    }

    /**
     * @return the worker thread (0-based) serving {@code queue}; queues on one worker are processed serially.
     */
    default int queueWorker(final int queue)
    {
        return 0;
    }

    /**
     * Serves the buffers available on {@code queue}: take chains with {@link DeviceQueue#next()} until it returns
     * null (or stop early and ask for {@link DeviceQueue#retryAfter}), completing each. Runs on the queue's worker.
     * An exception thrown here is logged and the queue is served again on its next kick.
     */
    void processQueue(DeviceQueue queue);

    /**
     * The queue started: for the first time since {@link #reset()}, or resumed after a stop (a VM {@code stop} and
     * {@code cont}, which keeps every device state). Ring indices do not tell the two apart: they wrap to 0 every
     * 65,536 buffers, so a resumed ring may start at 0 too. A driver reset always arrives as {@link #reset()}.
     */
    default void queueStarted(final int queue)
    {
    }

    /**
     * The queue is about to stop and report its state (vhost-user GET_VRING_BASE: a VM {@code stop}, a migration, the
     * stop ahead of a reset): give back, with {@link DeviceQueue#complete}, every chain taken from {@code queue} and
     * not completed yet (held messages, buffers parked until an event, requests waiting for a fence), each with what
     * the device's spec answers for a request it did not carry out. The front-end takes the ring's avail index as
     * consumed and its used index as returned right after this returns: a chain still held is lost to the driver,
     * which waits for it forever. Instead of completing them, a device may put chains it holds back on the ring with
     * {@link DeviceQueue#rewind} when they are the last ones taken: the base reported is then the first of them, and
     * the restarted ring reads them again (the driver sees nothing). {@link DeviceQueue#next()} returns null here (no
     * new chain is taken). Device state is kept (a resumed ring continues with it); {@link #queueStopped} follows.
     * <p>
     * Called with the ring still bound to guest memory, on the queue's worker thread (see {@link #queueWorker})
     * between two {@link #processQueue} calls, like them (so a device may touch what is bound to that thread, e.g. a
     * renderer's fences, and may wait there for its own work in flight to finish). Not called when the connection
     * is gone (nobody would read the ring) or the ring is broken. A device that implements this makes the
     * vhost-user GET_VRING_BASE wait for its worker to finish what it is doing (a {@link #processQueue}, a watch
     * callback) first; one that does not is answered at once.
     */
    default void queueStopping(final DeviceQueue queue)
    {
    }

    /**
     * The queue stopped (front-end stop, reset or disconnect); drop per-queue state.
     */
    default void queueStopped(final int queue)
    {
    }

    /**
     * Worker {@code worker} (see {@link #queueWorker}) is ending, on its own thread, after its last
     * {@link #processQueue}: the transport's connection is closing. Lets a device release what is bound to that
     * thread (e.g. a library that must be called from the thread that initialised it).
     */
    default void workerEnding(final int worker)
    {
    }

    /**
     * The driver reset the device (the transport's reset signal: a guest reboot, a driver unbound and bound again)
     * or its front-end went away: return to the freshly-created state. Never called for a VM stop/cont.
     */
    default void reset()
    {
    }
}
