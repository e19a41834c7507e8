package io.jvhost.device;

/**
 * The one rule for a log line that a peer can repeat at will (a refused request, a failed host call): log the first
 * {@value #FIRST} and then every {@value #EVERY}th, so a hostile driver cannot flood the log, yet a line still shows
 * up now and then while it goes on. The caller keeps its own count (it is usually exposed as a statistic too) and
 * names it in the line, so a reader sees how many were not logged: {@code if (LogThrottle.due(++failures)) LOG...}.
 * <p>
 * Allocates nothing, so it may sit on a request path that must not allocate. {@link Refusals} counts and logs a
 * device's refused requests by this rule.
 */
public final class LogThrottle
{
    /** Events logged one by one before the throttle starts. */
    public static final int FIRST = 10;

    /** After the first {@value #FIRST}, every this many-th event is logged. */
    public static final int EVERY = 1000;

    private LogThrottle()
    {
    }

    /**
     * @param count the event's number, counting from 1 (the count after this event).
     * @return whether this event is one to log: the first {@value #FIRST}, then every {@value #EVERY}th.
     */
    public static boolean due(final long count)
    {
        return count <= FIRST || count % EVERY == 0;
    }
}
