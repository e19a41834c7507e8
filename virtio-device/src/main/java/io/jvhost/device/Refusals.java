package io.jvhost.device;

import java.lang.System.Logger.Level;

import io.jvhost.virtqueue.DescriptorChain;

/**
 * A device's count of the requests it refused (answered with an error or returned empty) and its log of them: one
 * WARNING line per refusal, for the first ten and then every thousandth ({@link LogThrottle}), so a hostile driver
 * cannot flood the log.
 * A line names the device, the chain's head, why, and the count so far:
 * {@code gpio0: request 3 has 2 readable bytes, fewer than 8 (4 refused so far)}.
 * <p>
 * Used by the worker that serves the device's queues (not thread-safe); {@link #count()} may be read from anywhere.
 */
public final class Refusals
{
    private final System.Logger log;
    private final String device;
    private final String what;
    private volatile long count;

    /**
     * @param log    the device's logger (the lines come from the device).
     * @param device the device's name, e.g. {@code gpio0}.
     * @param what   what a chain carries, e.g. {@code request} or {@code command}.
     */
    public Refusals(final System.Logger log, final String device, final String what)
    {
        this.log = log;
        this.device = device;
        this.what = what;
    }

    /**
     * Counts a refusal of {@code chain} and logs {@code why} when its turn to be logged has come.
     */
    public void refuse(final DescriptorChain chain, final String why)
    {
        if (add())
        {
            log(chain, why);
        }
    }

    /**
     * Counts a refusal, for a caller that builds its reason only when it is logged.
     *
     * @return whether this refusal is logged (then call {@link #log}).
     */
    public boolean add()
    {
        final long n = count + 1;
        count = n;
        return LogThrottle.due(n);
    }

    /**
     * Logs the refusal just counted by {@link #add()}.
     */
    public void log(final DescriptorChain chain, final String why)
    {
        log.log(Level.WARNING, device + ": " + what + " " + chain.head() + " " + why + " (" + count
            + " refused so far)");
    }

    /**
     * @return the refusals since the device was made.
     */
    public long count()
    {
        return count;
    }
}
