package io.jvhost.vhostuser.frontend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The warnings and errors the given classes log while it is open, as "LEVEL message" (plus the throwable, if any): a
 * test waits for the line an event logs instead of sleeping until the event has surely happened.
 */
final class LogLines extends Handler implements AutoCloseable
{
    private final Duration wait;
    private final List<Logger> loggers = new ArrayList<>();
    private final List<String> lines = new ArrayList<>();

    /**
     * @param wait how long {@link #await} waits at most.
     */
    LogLines(final Duration wait, final Class<?>... classes)
    {
        this.wait = wait;
        for (final Class<?> c : classes)
        {
            final Logger logger = Logger.getLogger(c.getName());
            logger.addHandler(this);
            loggers.add(logger);
        }
    }

    @Override
    public void publish(final LogRecord record)
    {
        if (record.getLevel().intValue() < Level.WARNING.intValue())
        {
            return;
        }
        synchronized (lines)
        {
            lines.add(record.getLevel() + " " + record.getMessage()
                + (null == record.getThrown() ? "" : "\n" + record.getThrown()));
            lines.notifyAll();
        }
    }

    List<String> all()
    {
        synchronized (lines)
        {
            return List.copyOf(lines);
        }
    }

    /**
     * @return the lines containing {@code part}, once there are {@code count} of them (fails after the wait).
     */
    List<String> await(final int count, final String part) throws InterruptedException
    {
        final long deadline = System.nanoTime() + wait.toNanos();
        synchronized (lines)
        {
            while (true)
            {
                final List<String> found = lines.stream().filter(l -> l.contains(part)).toList();
                final long left = deadline - System.nanoTime();
                if (found.size() >= count || left <= 0)
                {
                    assertThat(found).as("lines containing '%s' among %s", part, lines)
                        .hasSizeGreaterThanOrEqualTo(count);
                    return found;
                }
                lines.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    @Override
    public void flush()
    {
    }

    @Override
    public void close()
    {
        loggers.forEach(l -> l.removeHandler(this));
    }
}
