package io.jvhost.virgl;

import io.jvhost.os.Epoll;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A fence listener that records what it hears, and the wait a device's worker does: watch virglrenderer's poll fd
 * (an eventfd with THREAD_SYNC) and call poll when it is readable, until a fence has signalled or a deadline
 * passes. Allocates nothing after construction.
 */
final class Fences implements FenceListener, AutoCloseable
{
    volatile long last = -1;
    volatile long signals;
    volatile long lastContextFence = -1;
    volatile int lastContext = -1;
    volatile int lastRing = -1;
    /** When set, thrown from the callback (to show it cannot reach C). */
    volatile RuntimeException toThrow;
    /** When set, called from the callback (to show the renderer refuses calls from inside it). */
    volatile Runnable reentry;
    volatile Throwable reentryFailure;

    private Epoll epoll;
    private int watched = -1;

    @Override
    public void fenceSignalled(final long fenceId)
    {
        last = fenceId;
        signals = signals + 1;
        final Runnable r = reentry;
        if (null != r)
        {
            try
            {
                r.run();
            }
            catch (final Throwable t)
            {
                reentryFailure = t;
            }
        }
        final RuntimeException e = toThrow;
        if (null != e)
        {
            throw e;
        }
    }

    @Override
    public void contextFenceSignalled(final int ctxId, final int ringIndex, final long fenceId)
    {
        lastContext = ctxId;
        lastRing = ringIndex;
        lastContextFence = fenceId;
    }

    /**
     * Polls until {@code done} holds, watching the renderer's poll fd; false after {@code timeoutMs}.
     */
    boolean await(final VirglRenderer renderer, final Condition done, final long timeoutMs) throws NativeException
    {
        final long deadline = start(renderer, timeoutMs);
        while (!done.holds())
        {
            if (!pollOnce(renderer, deadline))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Waits for context-0 fence {@code id} (without a lambda: this runs in the allocation test's measured loop).
     */
    boolean awaitFence(final VirglRenderer renderer, final long id, final long timeoutMs) throws NativeException
    {
        final long deadline = start(renderer, timeoutMs);
        while (last < id)
        {
            if (!pollOnce(renderer, deadline))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs the wait's loop body {@code n} times without waiting, so the JIT compiles it before a measurement.
     */
    void spin(final VirglRenderer renderer, final int n) throws NativeException
    {
        start(renderer, 0);
        for (int i = 0; i < n; i++)
        {
            epoll.await(0);
            renderer.poll();
        }
    }

    private long start(final VirglRenderer renderer, final long timeoutMs) throws NativeException
    {
        final int fd = renderer.pollFd();
        if (fd < 0)
        {
            throw new IllegalStateException("no poll fd: init without THREAD_SYNC?");
        }
        if (fd != watched)
        {
            close();
            epoll = Epoll.create(1);
            epoll.add(fd, LibC.EPOLLIN, 1);
            watched = fd;
        }
        renderer.poll();
        return System.nanoTime() + timeoutMs * 1_000_000L;
    }

    /** Waits for the poll fd (up to the deadline) and polls; false once the deadline has passed. */
    private boolean pollOnce(final VirglRenderer renderer, final long deadline) throws NativeException
    {
        final long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0)
        {
            return false;
        }
        epoll.await((int)Math.min(left, 1000));
        renderer.poll();
        return true;
    }

    interface Condition
    {
        boolean holds();
    }

    @Override
    public void close()
    {
        if (null != epoll)
        {
            epoll.close();
            epoll = null;
            watched = -1;
        }
    }
}
