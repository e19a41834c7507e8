package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;

/**
 * Warnings a guest can trigger at will: at most {@link #BURST} lines a second, the rest counted and summarised in the
 * next window. Check {@link #allow()} before building the message, so a flood costs no string building. Not
 * thread-safe (the device lock guards it).
 */
final class RateLimitedLog
{
    static final int BURST = 10;
    private static final long WINDOW_NANOS = 1_000_000_000L;

    private final System.Logger log;
    private final String name;
    private long windowStart = System.nanoTime() - WINDOW_NANOS;
    private int inWindow;
    private long suppressed;

    RateLimitedLog(final System.Logger log, final String name)
    {
        this.log = log;
        this.name = name;
    }

    /**
     * @return true when a line may be logged now (then call {@link #warn}).
     */
    boolean allow()
    {
        final long now = System.nanoTime();
        if (now - windowStart >= WINDOW_NANOS)
        {
            if (suppressed > 0)
            {
                log.log(Level.WARNING, name + ": " + suppressed + " more guest errors not logged");
                suppressed = 0;
            }
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow < BURST)
        {
            inWindow++;
            return true;
        }
        suppressed++;
        return false;
    }

    void warn(final String message)
    {
        log.log(Level.WARNING, name + ": " + message);
    }
}
