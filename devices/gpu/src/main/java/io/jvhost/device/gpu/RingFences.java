package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.util.concurrent.locks.LockSupport;

import io.jvhost.device.DeviceQueue;
import io.jvhost.virtqueue.DescriptorChain;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * Fenced requests on a context's ring (VIRTIO_GPU_F_CONTEXT_INIT, FLAG_INFO_RING_IDX): each waits for its own
 * (context, ring) timeline only. Unlike a context-0 fence ({@link HeldRequests#holdFence}), which stops the control
 * queue until it signals, a ring's fenced request is put aside and the queue goes on, so a fence on ring 1 never
 * waits for ring 0 or for another context.
 * <p>
 * <b>Fence ids.</b> virglrenderer is given our own 64-bit sequence, one number per fenced request over all rings,
 * never the guest's fence_id (a guest may repeat or reorder those); the response echoes the guest's. A signal for
 * (ctx, ring, n) completes every request of that ring numbered up to n, in the order they came: responses of one
 * ring stay in order, rings are independent. Because numbers are never reused, a late signal for a context that
 * was destroyed and created again cannot complete the new context's requests.
 * <p>
 * <b>Bounds.</b> At most {@link #capacity} requests wait at once (the control queue's size: a driver cannot have
 * more in flight); ring_idx is below {@link #MAX_RINGS}. A destroyed context's waiting requests are answered
 * OK_NODATA at once (virglrenderer drops their fences with the context, so nothing else would answer them); a
 * guest reset drops them all (their chains belong to the old queue).
 * <p>
 * <b>Threads and memory.</b> Worker only, under the device lock; {@link #signalled} runs from inside
 * {@code virgl_renderer_poll} on the same thread. Entries (each with a chain copy) are made the first time that
 * many requests wait and reused after: nothing is allocated per request in steady state.
 */
final class RingFences
{
    /** The spec's bound on ring_idx (0..63), and Venus's number of sync queues. */
    static final int MAX_RINGS = 64;

    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());

    /** One request waiting for its ring's fence. */
    private static final class Entry
    {
        final DescriptorChain chain = new DescriptorChain(GpuDevice.MAX_QUEUE_SIZE);
        int ctx;
        int ring;
        long seq;
        boolean done;
        int flags;
        long fenceId;
    }

    private final String name;
    private final HeldRequests.Responder responder;
    /** Waiting entries first, in arrival order ({@link #count}); spare ones after them. */
    private Entry[] entries = new Entry[0];
    private int count;
    private int doneCount;
    private long lastSeq;
    private long answeredByDestroy;

    RingFences(final String name, final HeldRequests.Responder responder)
    {
        this.name = name;
        this.responder = responder;
    }

    /**
     * @return the most requests that may wait at once on a control queue of {@code queueSize}.
     */
    static int capacity(final int queueSize)
    {
        return Math.max(1, Math.min(queueSize, GpuDevice.MAX_QUEUE_SIZE));
    }

    /**
     * @return requests waiting for their ring's fence.
     */
    int pending()
    {
        return count;
    }

    /**
     * @return true when another request can be put aside on a control queue of {@code queueSize}.
     */
    boolean hasRoom(final int queueSize)
    {
        return count < capacity(queueSize);
    }

    /**
     * Puts {@code request} aside until ring {@code ring} of context {@code ctx} has signalled the number this returns;
     * the caller creates that fence next, and calls {@link #cancel} if it could not.
     *
     * @return the fence number to give virglrenderer (1 or more, increasing).
     */
    long hold(final ControlRequest request, final int ctx, final int ring)
    {
        if (count == entries.length)
        {
            final Entry[] grown = new Entry[Math.max(4, Math.min(2 * entries.length, GpuDevice.MAX_QUEUE_SIZE))];
            System.arraycopy(entries, 0, grown, 0, entries.length);
            for (int i = entries.length; i < grown.length; i++)
            {
                grown[i] = new Entry();
            }
            entries = grown;
        }
        final Entry e = entries[count++];
        e.chain.copyFrom(request.chain);
        e.ctx = ctx;
        e.ring = ring;
        e.seq = ++lastSeq;
        e.done = false;
        e.flags = request.flags;
        e.fenceId = request.fenceId;
        return e.seq;
    }

    /**
     * The fence of the request {@link #hold} put aside last could not be created: forgets it (it is answered with
     * an error instead).
     */
    void cancel(final long seq)
    {
        if (count > 0 && entries[count - 1].seq == seq)
        {
            final Entry e = entries[--count];
            if (e.done)
            {
                e.done = false;
                doneCount--;
            }
        }
    }

    /**
     * virglrenderer's {@code write_context_fence}: every request of that ring numbered up to {@code seq} is done.
     * Unknown contexts, rings and numbers mark nothing.
     */
    void signalled(final int ctx, final int ring, final long seq)
    {
        for (int i = 0; i < count; i++)
        {
            final Entry e = entries[i];
            if (!e.done && e.ctx == ctx && e.ring == ring && e.seq <= seq)
            {
                e.done = true;
                doneCount++;
            }
        }
    }

    /**
     * Context {@code ctx} was destroyed: its waiting requests are done (virglrenderer dropped their fences).
     */
    void contextDestroyed(final int ctx)
    {
        int n = 0;
        for (int i = 0; i < count; i++)
        {
            final Entry e = entries[i];
            if (!e.done && e.ctx == ctx)
            {
                e.done = true;
                doneCount++;
                n++;
            }
        }
        if (n > 0)
        {
            answeredByDestroy += n;
            LOG.log(Level.INFO, name + ": context " + GuestErrors.id(ctx) + " destroyed with " + n
                + " fenced request(s) waiting on its rings; answered OK_NODATA");
        }
    }

    /**
     * @return requests answered because their context was destroyed (tests).
     */
    long answeredByDestroy()
    {
        return answeredByDestroy;
    }

    /**
     * Answers every done request, in arrival order, and keeps the others waiting in theirs.
     */
    void settle(final DeviceQueue queue)
    {
        if (0 == doneCount)
        {
            return;
        }
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            final Entry e = entries[i];
            if (e.done)
            {
                e.done = false;
                responder.respond(queue, e.chain, RESP_OK_NODATA, e.flags, e.fenceId, e.ctx, e.ring);
            }
            else
            {
                // Stable: waiting entries move forward in order, answered ones go to the spares.
                entries[i] = entries[kept];
                entries[kept++] = e;
            }
        }
        count = kept;
        doneCount = 0;
    }

    /**
     * The control ring stops (GET_VRING_BASE: a VM stop): every waiting request is answered now, so the ring's used
     * index accounts for it, after its fence signalled or, when {@code deadline} ({@link System#nanoTime()}) passes
     * first, without it (logged).
     */
    void answerAtStop(final DeviceQueue queue, final Renderer renderer, final long deadline)
    {
        while (doneCount < count && System.nanoTime() - deadline < 0)
        {
            renderer.pollFences();
            if (doneCount < count)
            {
                LockSupport.parkNanos(Math.min(renderer.fencePollNanos(), 1_000_000L));
            }
        }
        final int unsignalled = count - doneCount;
        if (unsignalled > 0)
        {
            LOG.log(Level.WARNING, name + ": " + unsignalled + " ring fence(s) had not signalled when the control queue"
                + " stopped; their requests are answered without them");
        }
        for (int i = 0; i < count; i++)
        {
            if (!entries[i].done)
            {
                entries[i].done = true;
                doneCount++;
            }
        }
        settle(queue);
    }

    /**
     * A guest reset, or the worker ending: every waiting request is dropped unanswered (its chain belongs to the
     * old queue).
     */
    void reset()
    {
        for (int i = 0; i < count; i++)
        {
            entries[i].done = false;
        }
        count = 0;
        doneCount = 0;
    }
}
