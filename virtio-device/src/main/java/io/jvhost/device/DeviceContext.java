package io.jvhost.device;

/**
 * What the transport offers a device outside {@link VirtioDevice#processQueue}: a way back onto a queue's worker
 * thread. Given to the device by {@link VirtioDevice#attach} when a driver connects.
 */
public interface DeviceContext
{
    /**
     * Makes the worker serving {@code queue} call {@link VirtioDevice#processQueue} soon, even without a kick (e.g. an
     * answer a held request waited for has arrived). Safe from any thread; cheap; coalesces.
     */
    void wake(int queue);

    /**
     * Watches a descriptor of the device's own (a host socket, a pipe, a reply channel) on the worker thread that
     * serves {@code queue}, beside the queue's kicks: whenever {@code fd} is readable or hung up, that thread runs
     * {@code onReadable} and then serves the queue as after a kick. The device can so complete requests from its
     * back-end's input without a thread of its own and without a hand-over between threads.
     * <p>
     * The watch is level-triggered: {@code onReadable} must consume the input (reading without blocking) or close the
     * watch, and may be called when nothing is left to read. After {@link FdWatch#close()} returns, it is not called
     * again; close the watch before closing {@code fd}. Safe from any thread.
     *
     * @return the watch, or null when this transport cannot watch descriptors (then read on a thread of your own).
     */
    default FdWatch watch(final int queue, final int fd, final Runnable onReadable)
    {
        return null;
    }

    /**
     * The device's config space changed (e.g. a display's outputs did): asks the transport to raise the config
     * interrupt, so the driver re-reads the config. Safe from any thread; never blocks (a front-end that does not read
     * its end loses the notification, with one log line).
     *
     * @return false when the notification could not be passed on (this transport or its peer cannot take it).
     */
    default boolean notifyConfigChanged()
    {
        return false;
    }

    /**
     * @return {@link #watch} bound to {@code queue}, for code that should not know about queues.
     */
    default FdWatcher watcher(final int queue)
    {
        return (fd, onReadable) -> watch(queue, fd, onReadable);
    }
}
