package io.jvhost.os;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what the given classes log (through java.util.logging, where System.Logger goes in tests) while it is open,
 * so a test can wait for the line an event logs instead of sleeping until the event has surely happened, and assert
 * that the event is worth one line with no stack trace. Shared by every module's tests (this module's test-jar).
 */
public final class LogRecorder implements AutoCloseable
{
    /**
     * One record as it was logged.
     */
    public record Entry(Level level, String logger, String message, Throwable thrown)
    {
        /**
         * @return "LEVEL message", plus a new line and the throwable if there is one.
         */
        public String line()
        {
            return level + " " + message + (null == thrown ? "" : "\n" + thrown);
        }
    }

    private final List<Logger> loggers = new ArrayList<>();
    private final List<Entry> entries = new ArrayList<>();
    private final Handler handler = new Handler()
    {
        @Override
        public void publish(final LogRecord record)
        {
            synchronized (entries)
            {
                entries.add(new Entry(record.getLevel(), record.getLoggerName(), record.getMessage(),
                    record.getThrown()));
                entries.notifyAll();
            }
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
        }
    };

    private LogRecorder()
    {
    }

    /**
     * Starts recording the loggers of {@code classes} (held here, so they are not collected meanwhile).
     */
    public static LogRecorder of(final Class<?>... classes)
    {
        return named(Arrays.stream(classes).map(Class::getName).toArray(String[]::new));
    }

    /**
     * Starts recording the loggers of these names ({@code ""}: the root, every logger that passes records up).
     */
    public static LogRecorder named(final String... names)
    {
        final LogRecorder recorder = new LogRecorder();
        for (final String name : names)
        {
            final Logger logger = Logger.getLogger(name);
            logger.addHandler(recorder.handler);
            recorder.loggers.add(logger);
        }
        return recorder;
    }

    /**
     * @return every entry so far, in order.
     */
    public List<Entry> entries()
    {
        synchronized (entries)
        {
            return List.copyOf(entries);
        }
    }

    /**
     * @return the entries at {@code level} or above whose message contains every one of {@code parts}.
     */
    public List<Entry> matching(final Level level, final String... parts)
    {
        return entries().stream().filter(e -> e.level().intValue() >= level.intValue()
            && Arrays.stream(parts).allMatch(p -> e.message().contains(p))).toList();
    }

    /**
     * @return the lines ({@link Entry#line()}) of the entries at {@code level} or above.
     */
    public List<String> lines(final Level level)
    {
        return matching(level).stream().map(Entry::line).toList();
    }

    /**
     * @return the first entry at {@code level} or above containing every one of {@code parts}, once there is one.
     */
    public Entry await(final Duration timeout, final Level level, final String... parts) throws InterruptedException
    {
        return await(timeout, 1, level, parts).getFirst();
    }

    /**
     * @return the entries at {@code level} or above containing every one of {@code parts}, once there are at least
     *     {@code count} of them (an AssertionError naming every entry after the timeout).
     */
    public List<Entry> await(final Duration timeout, final int count, final Level level, final String... parts)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (entries)
        {
            while (true)
            {
                final List<Entry> found = matching(level, parts);
                if (found.size() >= count)
                {
                    return found;
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    throw new AssertionError(found.size() + " of " + count + " " + level + " log lines containing "
                        + Arrays.toString(parts) + " in " + entries);
                }
                entries.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    @Override
    public void close()
    {
        loggers.forEach(l -> l.removeHandler(handler));
    }
}
