package io.jvhost.device;

import java.lang.System.Logger.Level;

import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.InvalidChainException;
import io.jvhost.virtqueue.QueueBrokenException;
import io.jvhost.virtqueue.SplitQueue;

/**
 * Runs a device over one started virtqueue: the {@link DeviceQueue} a device sees, and the notification loop
 * around it. Used by the vhost-user worker threads and usable as-is by an in-process VMM.
 * <p>
 * One {@link #serve} call: disable notifications, let the device take chains, notify the driver if it asked for it,
 * re-enable notifications and go round again if buffers arrived meanwhile (the re-check closes the lost-wakeup
 * window), unless the device asked for a later call that looks at the ring anyway ({@link #pollAfter}: the driver's
 * kicks meanwhile would only wake the worker). A batch is capped at twice the queue size so a guest that keeps the
 * ring full cannot starve the other queues on the same worker. Not thread-safe: one worker owns it at a time.
 */
public final class ActiveQueue implements DeviceQueue
{
    private static final System.Logger LOG = System.getLogger(ActiveQueue.class.getName());
    /** At most this many invalid-chain log lines per queue per second; the rest are counted. */
    private static final int LOG_BURST = 10;

    private final int index;
    private final String name;
    private final SplitQueue queue;
    private final DescriptorChain chain;
    private QueueNotifier notifier;
    private long ackedFeatures;
    private int budget;
    private boolean drained;
    private boolean pushed;
    private long retryNanos;
    /** {@link #pollAfter} was asked for in this round: notifications stay off. */
    private boolean quiet;
    private long invalidChains;
    private long logWindowStart;
    private int loggedInWindow;
    private boolean brokenLogged;

    /**
     * @param name     for logs, e.g. {@code rng0 q0}.
     * @param maxChain the most buffers one chain may have.
     */
    public ActiveQueue(final int index, final String name, final SplitQueue queue, final int maxChain)
    {
        this.index = index;
        this.name = name;
        this.queue = queue;
        this.chain = new DescriptorChain(maxChain);
    }

    /**
     * @return the underlying ring.
     */
    public SplitQueue splitQueue()
    {
        return queue;
    }

    public void setNotifier(final QueueNotifier notifier)
    {
        this.notifier = notifier;
    }

    public void setAckedFeatures(final long features)
    {
        this.ackedFeatures = features;
    }

    /**
     * @return invalid chains returned to the driver so far.
     */
    public long invalidChains()
    {
        return invalidChains;
    }

    /**
     * Serves the queue once (see class comment).
     *
     * @return nanoseconds after which the device wants to be called again without a kick, 0 if it does not, or -1
     *     if the batch budget ran out with work left (call again soon, after the worker's other queues).
     */
    public long serve(final VirtioDevice device)
    {
        retryNanos = 0;
        while (true)
        {
            if (queue.isBroken())
            {
                return 0;
            }
            queue.disableNotification();
            budget = Math.max(2 * queue.size(), 64);
            drained = false;
            quiet = false;
            try
            {
                device.processQueue(this);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, name + ": device failed while processing the queue: " + e, e);
            }
            notifyIfNeeded();
            if (quiet)
            {
                // No kicks wanted until the call the device asked for, which takes whatever was added meanwhile.
                queue.suppressNotification();
                return retryNanos;
            }
            if (!drained)
            {
                queue.enableNotification();
                return retryNanos > 0 ? retryNanos : budget == 0 ? -1 : 0;
            }
            if (!queue.enableNotification())
            {
                // A device may drain the ring and still ask for a call later (held buffers with a deadline).
                return retryNanos;
            }
        }
    }

    /**
     * The ring is about to stop: lets the device give back every chain it holds ({@link
     * VirtioDevice#queueStopping}), then notifies the driver if it asked for it. The caller keeps the ring's worker
     * away meanwhile, and reads the ring's state only after this returns.
     */
    public void stop(final VirtioDevice device)
    {
        if (queue.isBroken())
        {
            return;
        }
        // No new chain is taken from a stopping ring: next() finds no budget.
        budget = 0;
        drained = false;
        try
        {
            device.queueStopping(this);
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, name + ": device failed while giving back its chains at the ring's stop: " + e, e);
        }
        notifyIfNeeded();
        retryNanos = 0;
        quiet = false;
    }

    private void notifyIfNeeded()
    {
        if (pushed)
        {
            pushed = false;
            if (queue.needsNotification() && null != notifier)
            {
                notifier.notifyUsed();
            }
        }
    }

    @Override
    public int index()
    {
        return index;
    }

    @Override
    public int size()
    {
        return queue.size();
    }

    @Override
    public DescriptorChain next()
    {
        while (budget > 0)
        {
            try
            {
                if (!queue.pop(chain))
                {
                    drained = true;
                    return null;
                }
                budget--;
                return chain;
            }
            catch (final InvalidChainException e)
            {
                budget--;
                invalidChains++;
                if (e.head() >= 0)
                {
                    queue.pushUsed(e.head(), 0);
                    pushed = true;
                }
                logInvalid(e);
            }
            catch (final QueueBrokenException e)
            {
                if (!brokenLogged)
                {
                    // The driver's doing, not ours: a warning, once per stop.
                    brokenLogged = true;
                    LOG.log(Level.WARNING, name + ": queue stopped, the driver broke the ring: " + e.getMessage());
                }
                return null;
            }
        }
        return null;
    }

    private void logInvalid(final InvalidChainException e)
    {
        final long now = System.nanoTime();
        if (now - logWindowStart > 1_000_000_000L)
        {
            if (loggedInWindow > LOG_BURST)
            {
                LOG.log(Level.WARNING, name + ": " + (loggedInWindow - LOG_BURST) + " more invalid chains not logged");
            }
            logWindowStart = now;
            loggedInWindow = 0;
        }
        if (++loggedInWindow <= LOG_BURST)
        {
            LOG.log(Level.WARNING, name + ": invalid descriptor chain returned unused: " + e.getMessage());
        }
    }

    @Override
    public void complete(final DescriptorChain completed, final long written)
    {
        final long capped = Math.min(Math.max(written, 0), completed.writableBytes());
        queue.pushUsed(completed.head(), (int)Math.min(capped, 0xFFFF_FFFFL));
        pushed = true;
    }

    @Override
    public boolean rewind(final int availIndex, final int count)
    {
        return queue.rewind(availIndex, count);
    }

    @Override
    public void retryAfter(final long nanos)
    {
        retryNanos = Math.max(1, nanos);
        quiet = false;
        budget = 0;
        // Asked for after the ring was found empty too (a device that still waits for something of its own, e.g.
        // a GPU's fences, a sound stream's next message): the "drained, look again" loop returns it when the ring is
        // still empty, and serves the chains added meanwhile (their kicks were suppressed) when it is not.
    }

    @Override
    public void pollAfter(final long nanos)
    {
        retryAfter(nanos);
        quiet = true;
    }

    @Override
    public GuestMemory memory()
    {
        return queue.memory();
    }

    @Override
    public long ackedFeatures()
    {
        return ackedFeatures;
    }
}
