package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;

import io.jvhost.device.DeviceQueue;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * Takes requests off both queues and runs them through the one preamble every command shares: read the fixed part
 * into the request buffer, check the header is there, find the command in the {@link CommandTable}, refuse it when
 * it is not offered or its request is shorter than its structure, then hand it to its handler. Control commands are
 * answered (a handler's error code, or its command's OK response); cursor commands never are (Linux gives no buffer
 * for one), a bad one is only logged. Nothing a guest sends raises an exception: a handler that throws is a bug,
 * logged, and still answered ERR_UNSPEC so the guest does not wait forever. Worker only, under the device lock.
 * <p>
 * <b>Fences (3D).</b> A fenced command that succeeded is answered when its fence has signalled. A context-0 fence
 * holds the queue ({@link HeldRequests#holdFence}); a fence on a context's ring (FLAG_INFO_RING_IDX, with
 * VIRTIO_GPU_F_CONTEXT_INIT negotiated) is put aside in {@link RingFences} and the queue goes on. The ring's fields
 * are checked before the command runs: without CONTEXT_INIT negotiated, ring_idx above 63, an unknown context, or
 * more requests waiting than the queue holds, the command is refused and not carried out.
 */
final class CommandDecoder
{
    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());

    private final String name;
    private final CommandTable table;
    private final ControlRequest request;
    private final Responses responses;
    private final HeldRequests held;
    private final GuestErrors errors;
    private final Renderer renderer;
    private final RingFences rings;
    /** Ring fences are looked at this often while they wait and the fence descriptor is watched (a safety net). */
    private static final long WATCHED_RING_RETRY_NANOS = 100_000_000L;
    private boolean fencesWatched;

    CommandDecoder(final String name, final CommandTable table, final ControlRequest request,
        final Responses responses, final HeldRequests held, final GuestErrors errors, final Renderer renderer,
        final RingFences rings)
    {
        this.rings = rings;
        this.renderer = renderer;
        this.name = name;
        this.table = table;
        this.request = request;
        this.responses = responses;
        this.held = held;
        this.errors = errors;
    }

    /**
     * The renderer's fence descriptor is watched: waiting ring fences are looked at when it wakes the worker.
     */
    void fencesWatched(final boolean watched)
    {
        fencesWatched = watched;
    }

    void processControlQueue(final DeviceQueue queue)
    {
        rings.settle(queue);
        if (held.holding() && !held.settle(queue))
        {
            rings.settle(queue);
            return;
        }
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            int type;
            boolean ring = false;
            try
            {
                type = execute(chain, queue);
                ring = 0 != (request.flags & FLAG_INFO_RING_IDX) && 0 != (request.flags & FLAG_FENCE)
                    && renderer.fenceCompletesLater();
            }
            catch (final RuntimeException e)
            {
                // A bug, not a guest error: still answer, or the guest waits forever.
                LOG.log(Level.ERROR, name + ": " + GpuProtocol.name(errors.command()) + " failed unexpectedly: " + e,
                    e);
                type = RESP_ERR_UNSPEC;
            }
            if (type == RESP_OK_NODATA && ring && !renderer.hasContext(request.ctxId))
            {
                // The command destroyed its own context (a fenced CTX_DESTROY): nothing is left to wait for.
                ring = false;
            }
            else if (type == RESP_OK_NODATA && ring)
            {
                // A context's ring: put aside until that ring's fence signals; the queue goes on.
                final long seq = rings.hold(request, request.ctxId, request.ringIdx);
                if (0 == renderer.createContextFence(request.ctxId, request.ringIdx, seq))
                {
                    rings.settle(queue);
                    continue;
                }
                rings.cancel(seq);
                type = RESP_ERR_UNSPEC;
            }
            else if (type == RESP_OK_NODATA && 0 != (request.flags & FLAG_FENCE) && renderer.fenceCompletesLater())
            {
                // 3D: the response waits for a fence after the work this command queued.
                final long fence = renderer.createFence();
                type = fence < 0 ? RESP_ERR_UNSPEC : held.holdFence(request, fence);
                if (type == Command.Handler.OK)
                {
                    type = RESP_OK_NODATA;
                }
            }
            if (type == Command.Handler.HELD)
            {
                if (!held.settle(queue))
                {
                    rings.settle(queue);
                    return;
                }
                rings.settle(queue);
                continue;
            }
            // Ring fences this command completed (a CTX_DESTROY, a poll inside it) are answered before it.
            rings.settle(queue);
            responses.respond(queue, chain, type, request.flags, request.fenceId, request.ctxId, request.ringIdx);
        }
        if (rings.pending() > 0)
        {
            renderer.pollFences();
            rings.settle(queue);
            if (rings.pending() > 0)
            {
                queue.retryAfter(fencesWatched ? WATCHED_RING_RETRY_NANOS : renderer.fencePollNanos());
            }
        }
    }

    /**
     * The preamble, then the handler.
     *
     * @return the response type (its payload, if any, is in the response buffer), or {@link Command.Handler#HELD}.
     */
    private int execute(final DescriptorChain chain, final DeviceQueue queue)
    {
        final int n = (int)Math.min(chain.readableBytes(), ControlRequest.BUFFER_SIZE);
        request.chain = chain;
        request.memory = queue.memory();
        request.features = queue.ackedFeatures();
        request.length = n;
        request.clearHeader();
        errors.command(0);
        try
        {
            chain.reader().read(request.buffer, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return errors.fail(RESP_ERR_UNSPEC, e.getMessage());
        }
        if (n < HDR_SIZE)
        {
            return errors.tooShort(n, HDR_SIZE);
        }
        final int type = request.header.type();
        request.flags = request.header.flags();
        request.fenceId = request.header.fenceId();
        request.ctxId = request.header.ctxId();
        request.ringIdx = request.header.ringIdx();
        errors.command(type);
        final Command command = table.get(type);
        if (null == command || command.queue() != CONTROL_QUEUE)
        {
            return errors.fail(RESP_ERR_UNSPEC, "unknown command");
        }
        if (null != command.disabledWhy())
        {
            return errors.fail(RESP_ERR_UNSPEC, command.disabledWhy());
        }
        if (n < command.requestSize())
        {
            return errors.tooShort(n, command.requestSize());
        }
        if (0 != (request.flags & FLAG_INFO_RING_IDX) && 0 != (request.flags & FLAG_FENCE)
            && renderer.fenceCompletesLater())
        {
            final int refused = checkRing(queue);
            if (Command.Handler.OK != refused)
            {
                return refused;
            }
        }
        final int result = command.handler().handle(request);
        return result == Command.Handler.OK ? command.okResponse() : result;
    }

    /**
     * The ring fields of a fenced request, before its command runs.
     */
    private int checkRing(final DeviceQueue queue)
    {
        if (0 == (queue.ackedFeatures() & 1L << F_CONTEXT_INIT))
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "FLAG_INFO_RING_IDX (ring " + request.ringIdx
                + ") without VIRTIO_GPU_F_CONTEXT_INIT negotiated");
        }
        if (request.ringIdx >= RingFences.MAX_RINGS)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "ring_idx " + request.ringIdx + " > "
                + (RingFences.MAX_RINGS - 1));
        }
        final int ringCount = renderer.ringCount(request.ctxId);
        if (0 == ringCount)
        {
            return errors.fail(RESP_ERR_INVALID_CONTEXT_ID, "fence on ring " + request.ringIdx + " of context "
                + GuestErrors.id(request.ctxId) + ", which does not exist");
        }
        if (request.ringIdx >= ringCount)
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "fence on ring " + request.ringIdx + " of context "
                + GuestErrors.id(request.ctxId) + ", which has " + ringCount + " ring(s)");
        }
        if (!rings.hasRoom(queue.size()))
        {
            return errors.fail(RESP_ERR_OUT_OF_MEMORY, rings.pending() + " fenced requests already wait on rings"
                + " (as many as the queue holds)");
        }
        return Command.Handler.OK;
    }

    void processCursorQueue(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            try
            {
                cursorCommand(chain, queue);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, name + ": " + GpuProtocol.name(errors.command()) + " failed unexpectedly: " + e,
                    e);
            }
            // Cursor commands get no response (Linux gives no buffer for one).
            queue.complete(chain, 0);
        }
    }

    /**
     * The same preamble for the cursor queue, whose commands are never answered.
     */
    private void cursorCommand(final DescriptorChain chain, final DeviceQueue queue)
    {
        final int n = (int)Math.min(chain.readableBytes(), CURSOR_CMD_SIZE);
        request.chain = chain;
        request.memory = queue.memory();
        request.length = n;
        errors.command(0);
        try
        {
            chain.reader().read(request.buffer, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return;
        }
        if (n < HDR_SIZE)
        {
            errors.ignoreCursor("request of " + n + " bytes");
            return;
        }
        final int type = request.header.type();
        errors.command(type);
        final Command command = table.get(type);
        if (null == command || command.queue() != CURSOR_QUEUE)
        {
            errors.ignoreCursor("not a cursor command");
            return;
        }
        if (n < command.requestSize())
        {
            errors.ignoreCursor("request of " + n + " bytes, needs " + command.requestSize());
            return;
        }
        command.handler().handle(request);
    }
}
