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

    CommandDecoder(final String name, final CommandTable table, final ControlRequest request,
        final Responses responses, final HeldRequests held, final GuestErrors errors, final Renderer renderer)
    {
        this.renderer = renderer;
        this.name = name;
        this.table = table;
        this.request = request;
        this.responses = responses;
        this.held = held;
        this.errors = errors;
    }

    void processControlQueue(final DeviceQueue queue)
    {
        if (held.holding() && !held.settle(queue))
        {
            return;
        }
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            int type;
            try
            {
                type = execute(chain, queue);
            }
            catch (final RuntimeException e)
            {
                // A bug, not a guest error: still answer, or the guest waits forever.
                LOG.log(Level.ERROR, name + ": " + GpuProtocol.name(errors.command()) + " failed unexpectedly: " + e,
                    e);
                type = RESP_ERR_UNSPEC;
            }
            if (type == RESP_OK_NODATA && 0 != (request.flags & FLAG_FENCE) && renderer.fenceCompletesLater())
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
                    return;
                }
                continue;
            }
            responses.respond(queue, chain, type, request.flags, request.fenceId, request.ctxId, request.ringIdx);
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
        final int result = command.handler().handle(request);
        return result == Command.Handler.OK ? command.okResponse() : result;
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
