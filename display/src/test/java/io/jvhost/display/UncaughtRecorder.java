package io.jvhost.display;

import java.util.ArrayList;
import java.util.List;

/**
 * Stands in for the JVM's default uncaught-exception handler while a test runs: a thread of ours that died with a
 * throwable (the "Exception in thread" stack trace on stderr) shows up in {@link #deaths()}.
 */
final class UncaughtRecorder implements AutoCloseable
{
    private final Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    private final List<String> deaths = new ArrayList<>();

    UncaughtRecorder()
    {
        Thread.setDefaultUncaughtExceptionHandler((thread, throwable) ->
        {
            synchronized (deaths)
            {
                deaths.add(thread.getName() + ": " + throwable);
            }
        });
    }

    /**
     * @return "thread name: throwable" of each thread that died of an uncaught throwable.
     */
    List<String> deaths()
    {
        synchronized (deaths)
        {
            return List.copyOf(deaths);
        }
    }

    @Override
    public void close()
    {
        Thread.setDefaultUncaughtExceptionHandler(previous);
    }
}
