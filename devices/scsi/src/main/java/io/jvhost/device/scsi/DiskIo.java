package io.jvhost.device.scsi;

import java.lang.System.Logger.Level;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A small fixed set of threads that run {@link IoSlot} transfers, so a slow disk holds up neither the ring's worker
 * nor the control queue. Bounded: at most {@code capacity} slots queued (there are never more slots than that).
 * Each finished slot is handed to {@code onDone}, on the disk thread.
 */
final class DiskIo implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(DiskIo.class.getName());
    private static final IoSlot STOP = new IoSlot(1);

    private final BlockingQueue<IoSlot> pending;
    private final Thread[] threads;
    private final Consumer<IoSlot> onDone;
    private final Consumer<IoSlot> runner;
    private final AtomicInteger running = new AtomicInteger();

    /**
     * @param runner runs a slot's transfer ({@link IoSlot#run}; tests slow it down).
     */
    DiskIo(final String name, final int threadCount, final int capacity, final Consumer<IoSlot> runner,
        final Consumer<IoSlot> onDone)
    {
        this.runner = runner;
        this.pending = new ArrayBlockingQueue<>(capacity + threadCount);
        this.onDone = onDone;
        this.threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++)
        {
            threads[i] = Thread.ofPlatform().daemon().name(name + "-disk" + i).start(this::loop);
        }
    }

    /**
     * Queues {@code slot}; never blocks (the caller owns at most {@code capacity} slots).
     */
    void submit(final IoSlot slot)
    {
        running.incrementAndGet();
        if (!pending.offer(slot))
        {
            running.decrementAndGet();
            throw new IllegalStateException("disk queue full: more slots submitted than its capacity "
                + pending.size());
        }
    }

    /**
     * @return transfers submitted and not yet handed to {@code onDone}.
     */
    int running()
    {
        return running.get();
    }

    private void loop()
    {
        while (true)
        {
            final IoSlot slot;
            try
            {
                slot = pending.take();
            }
            catch (final InterruptedException e)
            {
                return;
            }
            if (slot == STOP)
            {
                return;
            }
            try
            {
                runner.accept(slot);
            }
            catch (final RuntimeException | Error e)
            {
                LOG.log(Level.ERROR, Thread.currentThread().getName() + ": transfer failed: " + e, e);
            }
            running.decrementAndGet();
            try
            {
                onDone.accept(slot);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, Thread.currentThread().getName() + ": completion hand-over failed: " + e, e);
            }
        }
    }

    @Override
    public void close()
    {
        for (int i = 0; i < threads.length; i++)
        {
            pending.offer(STOP);
        }
    }
}
