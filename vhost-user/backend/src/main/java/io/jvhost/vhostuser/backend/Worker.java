package io.jvhost.vhostuser.backend;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

import io.jvhost.device.FdWatch;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryAtomic;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.os.Epoll;
import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.NativeException;
import io.jvhost.os.PeerEventFd;
import io.jvhost.os.ThreadTop;

/**
 * A worker thread serving a group of virtqueues: it waits on their kick eventfds (epoll tokens are the queue
 * indices), on a wake eventfd the protocol thread uses to make it re-examine its rings, and on descriptors the device
 * watches ({@link io.jvhost.device.DeviceContext#watch}; tokens from {@link #WATCH_TOKEN_BASE}).
 * <p>
 * A worker that cannot go on (a fault in guest memory: the front-end shrank the file under our mapping; its epoll
 * failed; any other {@link Error}) stops and hands the reason to its connection, which ends: a connection nobody
 * serves must not stay up.
 * <p>
 * It acts on each event's mask, so a descriptor stuck in hang-up or error cannot spin it: a kick that reports one
 * (or whose read fails) and yields nothing is no longer watched (the ring is then served only when poked, until the
 * next SET_VRING_KICK), and a watched descriptor in hang-up or error gets its callback at most
 * {@value #HANGUP_CALLBACKS} times (enough to read what is left) before it is no longer watched; one log line each.
 * <p>
 * A ring's descriptors are closed here ({@link #retire}), at the end of a loop iteration, where the worker holds
 * none of them.
 */
final class Worker implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(Worker.class.getName());
    private static final long WAKE_TOKEN = Long.MAX_VALUE;
    /** Epoll token of watch slot i: WATCH_TOKEN_BASE + i (queue indices stay below). */
    private static final long WATCH_TOKEN_BASE = 1L << 32;
    /** Descriptors a device may watch on one worker at once. */
    static final int MAX_WATCHES = 16;
    /** Callbacks a watched descriptor in hang-up or error gets before it is no longer watched. */
    static final int HANGUP_CALLBACKS = 64;
    private static final int HANGUP_OR_ERROR = LibC.EPOLLHUP | LibC.EPOLLERR;

    /**
     * A watched descriptor. Its lock is held while its callback runs, so {@link #close()} from another thread waits
     * for a running callback, and a callback for an event fetched before the close sees {@code closed}.
     */
    private final class Watch implements FdWatch
    {
        final int slot;
        final int fd;
        final Vring vring;
        final Runnable onReadable;
        final ReentrantLock lock = new ReentrantLock();
        boolean closed;
        /** Events with hang-up or error delivered so far; worker only. */
        int hangups;

        Watch(final int slot, final int fd, final Vring vring, final Runnable onReadable)
        {
            this.slot = slot;
            this.fd = fd;
            this.vring = vring;
            this.onReadable = onReadable;
        }

        void fire(final int mask)
        {
            lock.lock();
            try
            {
                if (closed)
                {
                    return;
                }
                try
                {
                    onReadable.run();
                }
                catch (final RuntimeException e)
                {
                    LOG.log(Level.ERROR, name + ": watch of fd " + fd + " failed: " + e, e);
                }
                vring.pending = true;
                if ((mask & HANGUP_OR_ERROR) != 0 && !closed && ++hangups == HANGUP_CALLBACKS)
                {
                    epoll.remove(fd);
                    LOG.log(Level.WARNING, name + ": watched fd " + fd + " still reports " + describe(mask)
                        + " after " + HANGUP_CALLBACKS + " callbacks; no longer watched (the device should close"
                        + " its watch when the descriptor ends)");
                }
            }
            finally
            {
                lock.unlock();
            }
        }

        @Override
        public void close()
        {
            lock.lock();
            try
            {
                if (closed)
                {
                    return;
                }
                closed = true;
                synchronized (watches)
                {
                    watches[slot] = null;
                }
                if (running)
                {
                    try
                    {
                        epoll.remove(fd);
                    }
                    catch (final IllegalStateException e)
                    {
                        // The worker closed its epoll meanwhile: nothing is watched any more.
                    }
                }
            }
            finally
            {
                lock.unlock();
            }
        }
    }

    private final String name;
    private final VirtioDevice device;
    /** This worker's number, as {@link VirtioDevice#queueWorker} gives it. */
    private final int index;
    private final GuestMemoryAtomic memory;
    private final List<Vring> added = new ArrayList<>();
    /** The rings served, as an array: the loop below runs per wake-up and must not allocate iterators. */
    private Vring[] vrings = new Vring[0];
    private final Epoll epoll;
    private final EventFd wake;
    private final Thread thread;
    private Vring[] byIndex;
    /** Watch slots; guarded by itself (the worker reads a slot under the same monitor). */
    private final Watch[] watches = new Watch[MAX_WATCHES];
    /** Told why the worker stopped: what went wrong (naming the queue when known) and the throwable. */
    private final BiConsumer<String, Throwable> onFailure;
    private volatile boolean running = true;
    /** Descriptors to close at the end of the current iteration; guarded by itself. */
    private final List<PeerEventFd> retired = new ArrayList<>();
    /** Set when {@link #retired} is not empty, so the loop checks it without taking the lock. */
    private volatile boolean retiring;
    /** Tasks to run on this thread ({@link #runAndWait}); guarded by itself. */
    private final ArrayDeque<FutureTask<Void>> tasks = new ArrayDeque<>();
    /** Set when {@link #tasks} is not empty, so the loop checks it without taking the lock. */
    private volatile boolean tasksPending;
    /** Set once the serving loop has ended: tasks then run on their caller's thread. Guarded by {@link #tasks}. */
    private boolean loopEnded;
    /** Set once the thread is gone: retired descriptors are then closed at once. Guarded by {@link #retired}. */
    private boolean stopped;
    /** The ring being served, for a failure's message (a fault is thrown from the access that hit it); worker only. */
    private Vring serving;
    /** {@link #wakeSignals()}. */
    private final AtomicLong wakeSignals = new AtomicLong();

    /**
     * @param onFailure told, on this worker's thread, why it stopped before {@link #close()}; it ends the connection.
     */
    Worker(final String name, final int index, final VirtioDevice device, final GuestMemoryAtomic memory,
        final BiConsumer<String, Throwable> onFailure) throws NativeException
    {
        this.name = name;
        this.index = index;
        this.device = device;
        this.memory = memory;
        this.onFailure = onFailure;
        this.epoll = Epoll.create(64);
        this.wake = EventFd.create();
        epoll.add(wake.fd(), LibC.EPOLLIN, WAKE_TOKEN);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(ThreadTop.guarded(name, this::run));
    }

    void addVring(final Vring vring)
    {
        vring.worker = this;
        added.add(vring);
    }

    void start()
    {
        vrings = added.toArray(new Vring[0]);
        int max = 0;
        for (final Vring v : vrings)
        {
            max = Math.max(max, v.index + 1);
        }
        byIndex = new Vring[max];
        for (final Vring v : vrings)
        {
            byIndex[v.index] = v;
        }
        thread.start();
    }

    /**
     * Starts watching a ring's kick descriptor (protocol thread).
     */
    void watchKick(final Vring vring) throws NativeException
    {
        epoll.add(vring.kick.fd(), LibC.EPOLLIN, vring.index);
    }

    /**
     * Stops watching a ring's kick descriptor (protocol thread), before it is closed.
     */
    void unwatchKick(final Vring vring)
    {
        if (null != vring.kick)
        {
            epoll.remove(vring.kick.fd());
        }
    }

    /**
     * Closes a descriptor a ring let go of once this worker holds it no more: at the end of the current iteration of
     * its loop (it is woken for that), or at once when the worker has stopped. Any thread.
     */
    void retire(final PeerEventFd fd)
    {
        synchronized (retired)
        {
            if (!stopped)
            {
                retired.add(fd);
                retiring = true;
                wake.signal();
                return;
            }
        }
        fd.close();
    }

    private void closeRetired()
    {
        synchronized (retired)
        {
            for (int i = 0; i < retired.size(); i++)
            {
                retired.get(i).close();
            }
            retired.clear();
            retiring = false;
        }
    }

    /**
     * Stops watching a kick that reports hang-up or error, or cannot be read, and gave nothing: level-triggered, it
     * would wake this worker forever.
     */
    private void dropKick(final Vring v, final PeerEventFd k, final int mask)
    {
        epoll.remove(k.fd());
        LOG.log(Level.WARNING, name + ": queue " + v.index + "'s kick fd " + k.fd() + " reports " + describe(mask)
            + (k.drainError() != 0 ? " and cannot be read: " + Errno.name(k.drainError()) : "")
            + "; no longer watched: the queue is served only when poked until the next SET_VRING_KICK");
    }

    private static String describe(final int mask)
    {
        final StringBuilder s = new StringBuilder();
        if ((mask & LibC.EPOLLIN) != 0)
        {
            s.append("EPOLLIN|");
        }
        if ((mask & LibC.EPOLLHUP) != 0)
        {
            s.append("EPOLLHUP|");
        }
        if ((mask & LibC.EPOLLERR) != 0)
        {
            s.append("EPOLLERR|");
        }
        return s.isEmpty() ? "0x" + Integer.toHexString(mask) : s.substring(0, s.length() - 1);
    }

    /**
     * Watches {@code fd} for input; {@code onReadable} runs on this worker, then {@code vring} is served. Any thread.
     *
     * @throws NativeException when epoll refuses the descriptor.
     * @throws IllegalStateException when {@value #MAX_WATCHES} descriptors are watched already.
     */
    FdWatch watch(final Vring vring, final int fd, final Runnable onReadable) throws NativeException
    {
        final Watch w;
        synchronized (watches)
        {
            int slot = 0;
            while (slot < MAX_WATCHES && null != watches[slot])
            {
                slot++;
            }
            if (slot == MAX_WATCHES)
            {
                throw new IllegalStateException(name + ": already watching " + MAX_WATCHES + " descriptors");
            }
            w = new Watch(slot, fd, vring, onReadable);
            watches[slot] = w;
        }
        try
        {
            epoll.add(fd, LibC.EPOLLIN, WATCH_TOKEN_BASE + w.slot);
        }
        catch (final NativeException | RuntimeException e)
        {
            synchronized (watches)
            {
                watches[w.slot] = null;
            }
            throw e;
        }
        return w;
    }

    /**
     * Makes the worker look at {@code vring} soon even without a kick. From the worker itself (a device waking one of
     * its queues while it serves another, or from a watch's callback) the flag is enough: the loop looks at every
     * ring's flag before it waits again ({@link #timeoutMillis}), so no eventfd write and read are spent on it.
     */
    void poke(final Vring vring)
    {
        vring.pending = true;
        if (Thread.currentThread() != thread)
        {
            wakeSignals.incrementAndGet();
            wake.signal();
        }
    }

    /** @return how often {@link #poke} wrote the wake eventfd. */
    long wakeSignals()
    {
        return wakeSignals.get();
    }

    /**
     * Runs {@code task} on this worker's thread, between two rounds of serving (so no queue of this worker is being
     * processed meanwhile), and waits for it; runs it on the caller's thread when the worker's loop has ended. Any
     * thread but the worker's; the caller must not hold a lock the worker may wait for (a ring's).
     *
     * @return false when it did not finish within {@code timeoutNanos} (it may still run later).
     * @throws RuntimeException or Error the task threw.
     */
    boolean runAndWait(final Runnable task, final long timeoutNanos)
    {
        final FutureTask<Void> f = new FutureTask<>(task, null);
        final boolean here;
        synchronized (tasks)
        {
            here = loopEnded || Thread.currentThread() == thread;
            if (!here)
            {
                tasks.add(f);
                tasksPending = true;
            }
        }
        if (here)
        {
            task.run();
            return true;
        }
        wake.signal();
        try
        {
            f.get(timeoutNanos, TimeUnit.NANOSECONDS);
            return true;
        }
        catch (final TimeoutException e)
        {
            return false;
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return false;
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof RuntimeException r)
            {
                throw r;
            }
            if (e.getCause() instanceof Error err)
            {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    private void runTasks()
    {
        while (true)
        {
            final FutureTask<Void> f;
            synchronized (tasks)
            {
                f = tasks.poll();
                if (null == f)
                {
                    tasksPending = false;
                    return;
                }
            }
            f.run();
        }
    }

    private void run()
    {
        try
        {
            serveUntilStopped();
        }
        finally
        {
            synchronized (tasks)
            {
                loopEnded = true;
            }
            runTasks();
            try
            {
                device.workerEnding(index);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, name + ": the device failed as its worker ended: " + e, e);
            }
        }
    }

    private void serveUntilStopped()
    {
        while (running)
        {
            try
            {
                serveOnce();
            }
            catch (final NativeException e)
            {
                if (running)
                {
                    onFailure.accept(name + " stopped: " + e.getMessage(), e);
                }
                return;
            }
            catch (final RuntimeException e)
            {
                serving = null;
                LOG.log(Level.ERROR, name + ": unexpected error in worker loop: " + e, e);
            }
            catch (final Throwable t)
            {
                if (running)
                {
                    final String where = null == serving ? "" : " serving queue " + serving.index;
                    onFailure.accept(name + (MappedMemory.isFault(t) ? " faulted on guest memory" : " failed") + where
                        + ": " + ThreadTop.describe(t), t);
                }
                return;
            }
        }
    }

    /**
     * One iteration of the loop: waits for events, acts on them, serves the rings that need it. A method of its own
     * so the JIT compiles it after a few thousand wake-ups; as the body of the long-running loop above it would stay
     * interpreted until on-stack replacement, tens of thousands of wake-ups later.
     */
    private void serveOnce() throws NativeException
    {
        final int n = epoll.await(timeoutMillis());
        for (int i = 0; i < n; i++)
        {
            final long token = epoll.token(i);
            if (token == WAKE_TOKEN)
            {
                wake.drain();
            }
            else if (token >= WATCH_TOKEN_BASE && token < WATCH_TOKEN_BASE + MAX_WATCHES)
            {
                final Watch w;
                synchronized (watches)
                {
                    w = watches[(int)(token - WATCH_TOKEN_BASE)];
                }
                if (null != w)
                {
                    w.fire(epoll.readyMask(i));
                }
            }
            else if (token >= 0 && token < byIndex.length && null != byIndex[(int)token])
            {
                final Vring v = byIndex[(int)token];
                final PeerEventFd k = v.kick;
                if (null != k && k.drain() == 0
                    && ((epoll.readyMask(i) & HANGUP_OR_ERROR) != 0 || k.drainError() != 0))
                {
                    dropKick(v, k, epoll.readyMask(i));
                }
                v.pending = true;
            }
        }
        if (tasksPending)
        {
            runTasks();
        }
        final long now = System.nanoTime();
        for (final Vring v : vrings)
        {
            if (v.pending || v.retryAt != 0 && now - v.retryAt >= 0)
            {
                v.pending = false;
                v.retryAt = 0;
                serving = v;
                serve(v);
                serving = null;
            }
        }
        if (retiring)
        {
            closeRetired();
        }
    }

    private int timeoutMillis()
    {
        if (tasksPending)
        {
            return 0;
        }
        long earliest = Long.MAX_VALUE;
        final long now = System.nanoTime();
        for (final Vring v : vrings)
        {
            if (v.pending)
            {
                return 0;
            }
            if (v.retryAt != 0)
            {
                earliest = Math.min(earliest, Math.max(0, v.retryAt - now));
            }
        }
        return earliest == Long.MAX_VALUE ? -1 : (int)Math.min(Integer.MAX_VALUE, (earliest + 999_999) / 1_000_000);
    }

    private void serve(final Vring v)
    {
        v.lock.lock();
        try
        {
            if (!v.runnable() || v.queue.isBroken())
            {
                return;
            }
            final GuestMemory mem = memory.acquire();
            try
            {
                if (v.queue.memory() != mem)
                {
                    // Both are the front-end's doing (a ring started before SET_VRING_ADDR, a memory table that no
                    // longer holds the ring): the ring stops until the front-end sets it up and starts it again.
                    if (!v.queue.hasAddresses())
                    {
                        LOG.log(Level.WARNING, name + ": queue " + v.index + " has no ring addresses (started before"
                            + " SET_VRING_ADDR); stopped until it is set up and started again");
                        v.started = false;
                        return;
                    }
                    try
                    {
                        v.queue.bind(mem);
                    }
                    catch (final GuestMemoryException e)
                    {
                        LOG.log(Level.WARNING, name + ": queue " + v.index + " is not in guest memory: " + e.getMessage()
                            + "; stopped until it is set up and started again");
                        v.started = false;
                        return;
                    }
                }
                final long again = v.active.serve(device);
                if (again > 0)
                {
                    v.retryAt = System.nanoTime() + again;
                }
                else if (again < 0)
                {
                    v.pending = true;
                }
            }
            finally
            {
                mem.release();
            }
        }
        finally
        {
            v.lock.unlock();
        }
    }

    @Override
    public void close()
    {
        running = false;
        wake.signal();
        if (Thread.currentThread() != thread && thread.isAlive())
        {
            try
            {
                thread.join(5000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }
        if (!thread.isAlive())
        {
            synchronized (retired)
            {
                stopped = true;
            }
            closeRetired();
            epoll.close();
            wake.close();
        }
        else
        {
            LOG.log(Level.ERROR, name + ": worker did not stop within 5 s; leaving its descriptors open");
        }
    }
}
