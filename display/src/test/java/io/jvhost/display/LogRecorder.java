package io.jvhost.display;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what the display's classes log (through java.util.logging, where System.Logger goes in tests), so a test
 * can assert the one line an event is worth and that it carries no stack trace.
 */
final class LogRecorder implements AutoCloseable
{
    record Entry(Level level, String logger, String message, Throwable thrown)
    {
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

    /**
     * Starts recording the loggers of {@code classes} (held here, so they are not collected meanwhile).
     */
    static LogRecorder of(final Class<?>... classes)
    {
        final LogRecorder recorder = new LogRecorder();
        Arrays.stream(classes).forEach(c ->
        {
            final Logger logger = Logger.getLogger(c.getName());
            logger.addHandler(recorder.handler);
            recorder.loggers.add(logger);
        });
        return recorder;
    }

    List<Entry> entries()
    {
        synchronized (entries)
        {
            return List.copyOf(entries);
        }
    }

    /**
     * @return the entries at {@code level} or above whose message contains every one of {@code parts}.
     */
    List<Entry> matching(final Level level, final String... parts)
    {
        return entries().stream().filter(e -> e.level().intValue() >= level.intValue()
            && Arrays.stream(parts).allMatch(p -> e.message().contains(p))).toList();
    }

    /**
     * @return the first entry at {@code level} or above containing every one of {@code parts}, once there is one.
     */
    Entry await(final Duration timeout, final Level level, final String... parts) throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (entries)
        {
            while (true)
            {
                final List<Entry> found = matching(level, parts);
                if (!found.isEmpty())
                {
                    return found.getFirst();
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    throw new AssertionError("no " + level + " log line containing " + Arrays.toString(parts)
                        + " in " + entries);
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
