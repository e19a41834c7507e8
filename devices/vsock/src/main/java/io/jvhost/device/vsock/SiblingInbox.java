package io.jvhost.device.vsock;

import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.DeviceContext;
import io.jvhost.os.StreamFd;

/**
 * Connection requests from sibling VMs waiting for this device's worker: the one hand-over between two devices'
 * workers (everything after it flows through the connection's socket pair). Bounded: a full inbox, or one whose
 * device has no running driver, refuses, and the requesting device resets its guest's connection. Its own lock, held
 * only briefly and never while taking another: a device may offer while holding its own monitor.
 */
final class SiblingInbox
{
    /** A sibling's guest at {@code fromCid:fromPort} asks for this guest's {@code toPort}; {@code socket} is ours. */
    record Request(long fromCid, int fromPort, int toPort, StreamFd socket)
    {
    }

    static final int CAPACITY = 64;

    private final Request[] ring = new Request[CAPACITY];
    private int head;
    private int count;
    private DeviceContext context;

    /** A driver runs: requests are taken from now on, each announced by waking the rx queue's worker. */
    synchronized void open(final DeviceContext newContext)
    {
        context = newContext;
    }

    /**
     * @return false when refused (no driver running, or {@link #CAPACITY} requests waiting); the caller keeps the
     *     socket then.
     */
    boolean offer(final Request r)
    {
        final DeviceContext c;
        synchronized (this)
        {
            if (null == context || count == CAPACITY)
            {
                return false;
            }
            ring[(head + count) % CAPACITY] = r;
            count++;
            c = context;
        }
        c.wake(VsockDevice.RX);
        return true;
    }

    synchronized Request poll()
    {
        if (count == 0)
        {
            return null;
        }
        final Request r = ring[head];
        ring[head] = null;
        head = (head + 1) % CAPACITY;
        count--;
        return r;
    }

    /**
     * Refuses from now on and closes the sockets of the requests still waiting (their requesters see end of stream
     * and reset their guests' connections).
     */
    void close()
    {
        final List<Request> left = new ArrayList<>();
        synchronized (this)
        {
            context = null;
            Request r;
            while (null != (r = poll()))
            {
                left.add(r);
            }
        }
        left.forEach(r -> r.socket().close());
    }
}
