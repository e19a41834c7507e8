package io.jvhost.vhostuser.backend;

import java.util.concurrent.locks.ReentrantLock;

import io.jvhost.device.ActiveQueue;
import io.jvhost.os.PeerEventFd;
import io.jvhost.virtqueue.SplitQueue;

/**
 * One virtqueue's vhost-user state: its ring, its eventfds, and the two independent flags of the spec's ring
 * lifecycle: started (SET_VRING_KICK .. GET_VRING_BASE) and enabled (SET_VRING_ENABLE, or implied when protocol
 * features were not negotiated).
 * <p>
 * {@link #lock} is held by the worker while it serves the ring and by the protocol thread while it reconfigures
 * it, so GET_VRING_BASE always reads an index no batch is still moving.
 * <p>
 * Descriptors it lets go of are retired through its {@link Worker}, which closes them where it holds none: the worker
 * reads {@link #kick} without the lock, so closing it on the protocol thread could make the worker read whatever
 * file reused the number.
 */
final class Vring
{
    final int index;
    final SplitQueue queue;
    final ActiveQueue active;
    final ReentrantLock lock = new ReentrantLock();
    /** Written by the protocol thread under {@link #lock}, read by the worker without it. */
    volatile PeerEventFd kick;
    PeerEventFd call;
    PeerEventFd err;
    /** The worker serving this ring, set once before it starts. */
    Worker worker;
    boolean started;
    boolean enabled;
    /**
     * Set once the device gave back its chains for GET_VRING_BASE: the worker serves the ring no more until it is
     * stopped and started again. Guarded by {@link #lock}.
     */
    boolean stopping;
    /** Set by the protocol thread to make the worker look at the ring without a kick. */
    volatile boolean pending;
    /** System.nanoTime() at which the device asked to be served again, or 0. Worker-only. */
    long retryAt;

    Vring(final int index, final String name, final int maxQueueSize)
    {
        this.index = index;
        this.queue = new SplitQueue(maxQueueSize);
        this.active = new ActiveQueue(index, name + " q" + index, queue, maxQueueSize);
        this.active.setNotifier(this::signalCall);
    }

    /**
     * Set when the device owed the driver an interrupt while no call descriptor was installed (a ring restarted by
     * SET_VRING_KICK before its SET_VRING_CALL arrives); delivered on the next SET_VRING_CALL. Guarded by
     * {@link #lock}.
     */
    boolean callPending;

    private void signalCall()
    {
        final PeerEventFd c = call;
        if (null != c)
        {
            c.signal();
        }
        else
        {
            callPending = true;
        }
    }

    /**
     * Installs a new call descriptor (retiring the old one) and delivers an interrupt owed while there was none.
     * Caller holds {@link #lock}.
     */
    void replaceCall(final PeerEventFd next)
    {
        retire(call);
        call = next;
        if (null != next && callPending)
        {
            callPending = false;
            next.signal();
        }
    }

    /**
     * Installs a new error descriptor, retiring the old one. Caller holds {@link #lock}.
     */
    void replaceErr(final PeerEventFd next)
    {
        retire(err);
        err = next;
    }

    /**
     * Installs a new kick descriptor, retiring the old one; the caller stops and starts watching. Caller holds
     * {@link #lock}.
     */
    void replaceKick(final PeerEventFd next)
    {
        retire(kick);
        kick = next;
    }

    private void retire(final PeerEventFd fd)
    {
        if (null != fd)
        {
            worker.retire(fd);
        }
    }

    boolean runnable()
    {
        return started && enabled && !stopping;
    }

    /**
     * Retires every descriptor. Caller holds {@link #lock}.
     */
    void closeFds()
    {
        replaceKick(null);
        replaceCall(null);
        replaceErr(null);
    }
}
