package io.jvhost.virgl;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One dedicated platform thread for a test's virglrenderer: every call to the renderer runs here, as it will on
 * the device's worker. What a task throws is rethrown to the test thread as is.
 */
final class VirglThread implements AutoCloseable
{
    private final ExecutorService executor;
    private volatile Thread thread;

    VirglThread(final String name)
    {
        this.executor = Executors.newSingleThreadExecutor(task ->
        {
            final Thread t = Thread.ofPlatform().name(name).daemon().unstarted(task);
            thread = t;
            return t;
        });
    }

    interface Task<T>
    {
        T run() throws Exception;
    }

    interface VoidTask
    {
        void run() throws Exception;
    }

    /**
     * Runs {@code task} on the thread and waits for it (60 s at most: a hang fails the test instead of the build).
     */
    <T> T call(final Task<T> task) throws Exception
    {
        final Future<T> future = executor.submit((Callable<T>)task::run);
        try
        {
            return future.get(60, TimeUnit.SECONDS);
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof Exception cause)
            {
                throw cause;
            }
            if (e.getCause() instanceof Error cause)
            {
                throw cause;
            }
            throw e;
        }
        catch (final TimeoutException e)
        {
            future.cancel(true);
            throw new AssertionError("virgl thread did not finish a task in 60 s", e);
        }
    }

    void run(final VoidTask task) throws Exception
    {
        call(() ->
        {
            task.run();
            return null;
        });
    }

    Thread thread()
    {
        return thread;
    }

    @Override
    public void close()
    {
        executor.shutdown();
    }
}
