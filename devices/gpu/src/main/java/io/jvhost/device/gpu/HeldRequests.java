package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

import io.jvhost.device.DeviceQueue;
import io.jvhost.virtqueue.DescriptorChain;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * Requests answered later: GET_DISPLAY_INFO and GET_EDID are asked of the display asynchronously; in 3D mode a
 * fenced command is answered once its fence has signalled ({@link #holdFence}). The request is
 * copied aside and the control queue is not read further until it is answered, so fenced responses stay in order
 * without a fence queue. No answer within {@link GpuDevice#DISPLAY_TIMEOUT_NANOS} (or a display that cannot answer,
 * or answers null, or goes away) means the defaults from {@link GpuOptions}, as when no display is attached at all.
 * <p>
 * Worker only, under the device lock, except {@link #deliver}, which a display calls from any thread.
 */
final class HeldRequests
{
    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());
    /** {@link #command} of a request waiting for its fence. */
    private static final int FENCE = -1;
    /** Fences are looked at this often while their descriptor is watched (a safety net: the watch wakes us). */
    private static final long WATCHED_FENCE_RETRY_NANOS = 100_000_000L;

    /**
     * Sends a response for a chain with the fence fields of its request.
     */
    @FunctionalInterface
    interface Responder
    {
        void respond(DeviceQueue queue, DescriptorChain chain, int type, int flags, long fenceId, int ctxId,
            int ringIdx);
    }

    private final String name;
    private final DisplayOutputs out;
    private final DisplayInfo info;
    private final MemorySegment response;
    private final Responder responder;
    private final Runnable wake;
    private final LongSupplier nanoClock;
    private final Renderer renderer;
    private boolean fencesWatched;
    private long fence;
    private final DescriptorChain held = new DescriptorChain(GpuDevice.MAX_QUEUE_SIZE);
    /** The held request's sequence number a display answer must carry; 0 = none awaited. */
    private volatile long awaitedSeq;
    private volatile Answer answer;
    private boolean holding;
    private int command;
    private int scanout;
    private int flags;
    private long fenceId;
    private int ctxId;
    private int ringIdx;
    private long deadline;
    private GpuDisplay asked;
    private long lastSeq;

    HeldRequests(final String name, final DisplayOutputs out, final DisplayInfo info, final MemorySegment response,
        final Responder responder, final Runnable wake, final LongSupplier nanoClock, final Renderer renderer)
    {
        this.renderer = renderer;
        this.name = name;
        this.out = out;
        this.info = info;
        this.response = response;
        this.responder = responder;
        this.wake = wake;
        this.nanoClock = nanoClock;
    }

    boolean holding()
    {
        return holding;
    }

    /**
     * Keeps {@code request}'s chain aside until the display answers {@code type}.
     *
     * @return {@link Command.Handler#HELD}, or {@link Command.Handler#OK} with the defaults in the response when the
     *     chain cannot be kept aside (a transport with longer chains than ours).
     */
    int hold(final ControlRequest request, final int type, final int scanoutId)
    {
        if (request.chain.count() > held.maxDescriptors())
        {
            fill(type, scanoutId, null);
            return Command.Handler.OK;
        }
        held.copyFrom(request.chain);
        holding = true;
        command = type;
        scanout = scanoutId;
        flags = request.flags;
        fenceId = request.fenceId;
        ctxId = request.ctxId;
        ringIdx = request.ringIdx;
        asked = null;
        return Command.Handler.HELD;
    }

    /**
     * Keeps {@code request}'s chain aside until the renderer's fence {@code fenceToWait} has signalled; it is then
     * answered OK_NODATA with its own fence fields. The queue waits meanwhile, so responses stay in order.
     *
     * @return {@link Command.Handler#HELD}, or {@link Command.Handler#OK} at once when the chain cannot be kept
     *     aside (a transport with longer chains than ours).
     */
    int holdFence(final ControlRequest request, final long fenceToWait)
    {
        if (request.chain.count() > held.maxDescriptors())
        {
            return Command.Handler.OK;
        }
        held.copyFrom(request.chain);
        holding = true;
        command = FENCE;
        fence = fenceToWait;
        flags = request.flags;
        fenceId = request.fenceId;
        ctxId = request.ctxId;
        ringIdx = request.ringIdx;
        return Command.Handler.HELD;
    }

    /**
     * The renderer's fence descriptor is watched: fences are looked at when it wakes the worker.
     */
    void fencesWatched(final boolean watched)
    {
        fencesWatched = watched;
    }

    private boolean settleFence(final DeviceQueue queue)
    {
        if (!renderer.fenceDone(fence))
        {
            renderer.pollFences();
            if (!renderer.fenceDone(fence))
            {
                queue.retryAfter(fencesWatched ? WATCHED_FENCE_RETRY_NANOS : renderer.fencePollNanos());
                return false;
            }
        }
        holding = false;
        responder.respond(queue, held, RESP_OK_NODATA, flags, fenceId, ctxId, ringIdx);
        return true;
    }

    /**
     * Completes the held request if it can be answered now (answer arrived, timeout, display gone or changed).
     *
     * @return true when it was completed and the queue may go on, false when it still waits (a retry is set).
     */
    boolean settle(final DeviceQueue queue)
    {
        if (FENCE == command)
        {
            return settleFence(queue);
        }
        final GpuDisplay display = out.current();
        if (asked != display)
        {
            // Not asked yet, or asked of a display that has gone since: ask the current one, if any.
            if (null == display || !ask(display))
            {
                complete(queue, null);
                return true;
            }
        }
        final Answer a = answer;
        if (null != a && a.seq() == awaitedSeq)
        {
            complete(queue, a.value());
            return true;
        }
        final long left = deadline - nanoClock.getAsLong();
        if (left <= 0)
        {
            LOG.log(Level.WARNING, name + ": the display did not answer " + GpuProtocol.name(command)
                + " within " + GpuDevice.DISPLAY_TIMEOUT_NANOS / 1_000_000 + " ms; answered with the defaults");
            complete(queue, null);
            return true;
        }
        queue.retryAfter(left);
        return false;
    }

    /**
     * @return false when the display cannot answer (then the defaults apply at once).
     */
    private boolean ask(final GpuDisplay target)
    {
        final long seq = ++lastSeq;
        awaitedSeq = seq;
        answer = null;
        asked = target;
        deadline = nanoClock.getAsLong() + GpuDevice.DISPLAY_TIMEOUT_NANOS;
        return command == CMD_GET_DISPLAY_INFO
            ? out.requestDisplayInfo(target, modes -> deliver(seq, modes))
            : out.requestEdid(target, scanout, edid -> deliver(seq, edid));
    }

    /**
     * A display's answer, from any thread. Stale answers (for a request already settled) are dropped.
     */
    private void deliver(final long seq, final Object value)
    {
        if (seq == awaitedSeq)
        {
            answer = new Answer(seq, value);
            wake.run();
        }
    }

    private void complete(final DeviceQueue queue, final Object value)
    {
        holding = false;
        asked = null;
        awaitedSeq = 0;
        answer = null;
        responder.respond(queue, held, fill(command, scanout, value), flags, fenceId, ctxId, ringIdx);
    }

    /**
     * @return the response type, its payload written.
     */
    private int fill(final int type, final int scanoutId, final Object value)
    {
        if (type == CMD_GET_DISPLAY_INFO)
        {
            info.fillDisplayInfo(response, value instanceof DisplayMode[] modes ? modes : null);
            return RESP_OK_DISPLAY_INFO;
        }
        info.fillEdid(response, scanoutId, value instanceof byte[] edid ? edid : null);
        return RESP_OK_EDID;
    }

    /**
     * The control ring stops (GET_VRING_BASE: a VM stop): the held request is answered now, so the ring's used index
     * accounts for it. A display request gets the answer if it has come, else the defaults (as at the timeout); a
     * fenced one waits for its fence until {@code deadline} ({@link System#nanoTime()}), polling the renderer, and is
     * then answered OK_NODATA (logged when the fence had not signalled: the guest is told before the host finished).
     */
    void answerAtStop(final DeviceQueue queue, final long deadline)
    {
        if (!holding)
        {
            return;
        }
        if (FENCE != command)
        {
            final Answer a = answer;
            complete(queue, null != a && a.seq() == awaitedSeq ? a.value() : null);
            return;
        }
        while (!renderer.fenceDone(fence))
        {
            renderer.pollFences();
            if (renderer.fenceDone(fence))
            {
                break;
            }
            if (System.nanoTime() - deadline >= 0)
            {
                LOG.log(Level.WARNING, name + ": fence " + fence + " had not signalled when the control queue stopped;"
                    + " its request is answered without it");
                break;
            }
            LockSupport.parkNanos(Math.min(renderer.fencePollNanos(), 1_000_000L));
        }
        holding = false;
        responder.respond(queue, held, RESP_OK_NODATA, flags, fenceId, ctxId, ringIdx);
    }

    /**
     * A guest reset: the held request is dropped (its chain belongs to the old queue).
     */
    void reset()
    {
        holding = false;
        command = 0;
        asked = null;
        awaitedSeq = 0;
        answer = null;
    }

    /**
     * A display's answer to request {@code seq}: DisplayMode[], byte[] or null.
     */
    private record Answer(long seq, Object value)
    {
    }
}
