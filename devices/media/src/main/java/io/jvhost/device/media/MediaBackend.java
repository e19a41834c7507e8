package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.FdWatcher;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.ChainReader;

/**
 * What a virtio-media device presents: a V4L2 device whose sessions (the guest's opened file descriptors) the
 * {@link MediaDevice} numbers and checks. The device has validated the command, the session and the payload's size
 * and direction before it calls {@link #ioctl}; a back-end checks the payload's fields.
 * <p>
 * All calls come from the device's worker thread; a back-end needs no locking of its own for them.
 */
public interface MediaBackend extends AutoCloseable
{
    /**
     * @return the config space's device_caps (V4L2_CAP_* of the video node).
     */
    int deviceCaps();

    /**
     * @return the config space's card name (at most 31 ASCII characters are shown).
     */
    String card();

    /**
     * @return how many sessions may be open at once (the device's slots are 0 to this minus one).
     */
    int maxSessions();

    /**
     * A driver connected: {@code watcher} watches descriptors on the worker that serves the eventq (after a callback,
     * that worker sends the events {@link #nextDequeued} has). Back-ends whose buffers finish on the host watch their
     * host descriptors with it; the default ignores it.
     */
    default void attach(final FdWatcher watcher)
    {
    }

    /**
     * Opens session slot {@code slot} (free until now).
     *
     * @return 0, or the errno the guest's open gets.
     */
    int open(int slot);

    /**
     * Closes an open slot: its buffers and pending dequeues are dropped.
     */
    void close(int slot);

    /**
     * Runs ioctl {@code code} (known to {@link V4l2}) on an open slot.
     *
     * @param payload the driver's payload ({@link V4l2#payloadSize} bytes; zero for an ioctl the driver does not
     *                write); the back-end writes the answer in place.
     * @param rest    the readable part after the payload (SG entries of USERPTR buffers).
     * @param memory  the guest memory SG entries point into.
     * @return 0, or a positive errno (then the payload is not passed back).
     */
    int ioctl(int slot, int code, MemorySegment payload, ChainReader rest, GuestMemory memory);

    /**
     * Takes the oldest buffer some session has finished with, writing its {@code struct v4l2_buffer} into
     * {@code buffer}.
     *
     * @return the slot of the session it belongs to, or -1 when none is pending.
     */
    int nextDequeued(MemorySegment buffer);

    /**
     * @return whether {@link #nextDequeued} has something.
     */
    boolean hasDequeued();

    /**
     * Closes what the back-end holds on the host.
     */
    @Override
    void close();
}
