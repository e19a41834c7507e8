package io.jvhost.device.fuzz;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Collects what jvhost logs at ERROR (java.util.logging's SEVERE) while a fuzz target runs: the target clears it before
 * an execution and checks it is empty after, as a hostile input is answered, never an error of ours.
 */
public final class ErrorLog extends Handler
{
    private final List<String> messages = new ArrayList<>();
    /** Held: java.util.logging keeps loggers weakly, and a collected one would forget its level and this handler. */
    private final Logger logger;

    private ErrorLog(final Logger logger)
    {
        this.logger = logger;
    }

    /**
     * Adds a new log to the {@code io.jvhost} logger. Only errors are logged at all while fuzzing ({@code JAZZER_FUZZ}
     * set: a line or two at INFO would be most of an execution's time); replaying, the normal suite, leaves the levels
     * alone, as other tests of the same JVM read INFO lines.
     */
    public static ErrorLog install()
    {
        final ErrorLog log = new ErrorLog(Logger.getLogger("io.jvhost"));
        if (null != System.getenv("JAZZER_FUZZ"))
        {
            log.logger.setLevel(Level.SEVERE);
        }
        log.logger.addHandler(log);
        return log;
    }

    @Override
    public synchronized void publish(final LogRecord record)
    {
        if (record.getLevel().intValue() >= Level.SEVERE.intValue())
        {
            messages.add(record.getMessage());
        }
    }

    public synchronized List<String> messages()
    {
        return List.copyOf(messages);
    }

    public synchronized void clear()
    {
        messages.clear();
    }

    @Override
    public void flush()
    {
    }

    @Override
    public void close()
    {
    }
}
