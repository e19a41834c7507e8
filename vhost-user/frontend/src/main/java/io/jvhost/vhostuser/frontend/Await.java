package io.jvhost.vhostuser.frontend;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Waiting on observable state that nothing signals (a counter, a flag of another component): the condition is polled
 * every millisecond until it holds or the timeout passes. Tests use it instead of sleeping for a guessed time.
 */
public final class Await
{
    private Await()
    {
    }

    /**
     * @return true as soon as {@code condition} holds; false if it still did not after {@code timeout}.
     */
    public static boolean until(final BooleanSupplier condition, final Duration timeout)
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline >= 0)
            {
                return condition.getAsBoolean();
            }
            LockSupport.parkNanos(1_000_000);
        }
        return true;
    }
}
