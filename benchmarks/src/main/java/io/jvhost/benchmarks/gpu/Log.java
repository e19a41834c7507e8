package io.jvhost.benchmarks.gpu;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;

/**
 * GpuBench's progress log: stderr, so stdout carries only the Markdown report.
 */
final class Log
{
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
    private static volatile boolean verbose;

    private Log()
    {
    }

    static void verbose(final boolean on)
    {
        verbose = on;
    }

    static void info(final String message)
    {
        System.err.println("[gpubench " + LocalTime.now().format(TIME) + "] " + message);
    }

    /**
     * Only with {@code --verbose}.
     */
    static void detail(final String message)
    {
        if (verbose)
        {
            info(message);
        }
    }
}
