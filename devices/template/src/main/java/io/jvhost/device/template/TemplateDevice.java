package io.jvhost.device.template;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * The smallest complete device, the guide for writing the next one (the README's "Adding a device" walks through it).
 * It answers what rust-vmm's vhost-device-template only logs, with the shape every real device has: one request
 * queue, a request read from the chain's device-readable part through a flyweight, a status and data written into
 * its device-writable part, and every guest value checked before it is used.
 * <p>
 * Its protocol (jvhost's own; virtio has no template device, so no guest driver speaks it): a request is
 * {@link TemplateRequest} (op, length, data), the response {@code le32 status} followed by data.
 * <ul>
 *   <li>{@link #OP_ECHO}: the data comes back as it was sent.</li>
 *   <li>{@link #OP_COUNT}: the response's data is the le32 number of requests this device has answered OK, this one
 *   included (the counter rust's template keeps).</li>
 * </ul>
 * Anything else is refused with a status, never an exception: an unknown op is {@link #STATUS_UNSUPPORTED}, a length
 * beyond what the chain holds or beyond {@link #MAX_DATA}, or a response that does not fit the writable part, is
 * {@link #STATUS_INVALID}. A chain too short to hold even the status is returned with nothing written. Every refusal
 * is one log line (the first ten, then every thousandth), and the next request is served as usual.
 * <p>
 * Steady state allocates nothing: the header and data are copied through one scratch buffer made at construction.
 * The device keeps no per-connection state but its counter, which a reset clears.
 */
public final class TemplateDevice implements VirtioDevice
{
    /**
     * The virtio device ID. Virtio assigns the template none; 0 is virtio's "reserved (invalid)" ID, and a front-end
     * that needs one (QEMU 11.1's vhost-user-test-device-pci) is told another by its own command line.
     */
    public static final int DEVICE_TYPE = 0;
    /** vhost-device-template's queue size. */
    public static final int QUEUE_SIZE = 1024;
    /** The largest payload a request may carry, and so the scratch buffer's size. */
    public static final int MAX_DATA = 4096;

    public static final int OP_ECHO = 1;
    public static final int OP_COUNT = 2;

    public static final int STATUS_OK = 0;
    public static final int STATUS_UNSUPPORTED = 1;
    public static final int STATUS_INVALID = 2;

    private static final System.Logger LOG = System.getLogger(TemplateDevice.class.getName());

    private final String name;
    private final MemorySegment scratch = MemorySegment.ofArray(new byte[TemplateRequest.SIZE + MAX_DATA]);
    private final TemplateRequest request = new TemplateRequest();
    private int answered;
    private final Refusals refusals;

    public TemplateDevice(final String name)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "request");
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "template";
    }

    @Override
    public int queueCount()
    {
        return 1;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    /**
     * The ring features vhost-device-template offers (the transport adds PROTOCOL_FEATURES): {@code 0x1_3100_0000}.
     */
    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE;
    }

    /**
     * @return requests refused with a status or returned empty, since the device was made.
     */
    public long refusedRequests()
    {
        return refusals.count();
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            queue.complete(chain, answer(chain));
        }
    }

    /**
     * @return the bytes written into the chain's writable part.
     */
    private long answer(final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        if (out.remaining() < 4)
        {
            refusals.refuse(chain, "has " + out.remaining()
                + " writable bytes, too few for the 4-byte status; returned empty");
            return 0;
        }
        try
        {
            final int status = serve(chain, out);
            if (status != STATUS_OK)
            {
                out.rewind();
                out.writeInt(status);
            }
            return out.written();
        }
        catch (final ChainAccessException e)
        {
            // Cannot happen after the checks in serve(); answered like any other malformed request all the same.
            refusals.refuse(chain, e.getMessage());
            out.rewind();
            return writeStatus(out, STATUS_INVALID);
        }
    }

    private int serve(final DescriptorChain chain, final ChainWriter out) throws ChainAccessException
    {
        final ChainReader in = chain.reader();
        if (in.remaining() < TemplateRequest.SIZE)
        {
            refusals.refuse(chain, "has " + in.remaining() + " readable bytes, fewer than the " + TemplateRequest.SIZE
                + "-byte header");
            return STATUS_INVALID;
        }
        in.read(scratch, 0, TemplateRequest.SIZE);
        request.wrap(scratch);
        final long length = request.length();
        if (length > MAX_DATA || length > in.remaining())
        {
            refusals.refuse(chain, "claims " + length + " data bytes; it holds " + in.remaining() + ", at most "
                + MAX_DATA + " are allowed");
            return STATUS_INVALID;
        }
        switch (request.op())
        {
            case OP_ECHO ->
            {
                if (out.remaining() < 4 + length)
                {
                    refusals.refuse(chain, "echo of " + length + " bytes needs " + (4 + length)
                        + " writable bytes, has " + out.remaining());
                    return STATUS_INVALID;
                }
                in.read(scratch, TemplateRequest.SIZE, length);
                out.writeInt(STATUS_OK);
                out.write(scratch, TemplateRequest.SIZE, length);
            }
            case OP_COUNT ->
            {
                if (out.remaining() < 8)
                {
                    refusals.refuse(chain, "count needs 8 writable bytes, has " + out.remaining());
                    return STATUS_INVALID;
                }
                out.writeInt(STATUS_OK);
                out.writeInt(answered + 1);
            }
            default ->
            {
                refusals.refuse(chain, "has unknown op " + request.op() + " (ECHO is " + OP_ECHO + ", COUNT " + OP_COUNT
                    + ")");
                return STATUS_UNSUPPORTED;
            }
        }
        answered++;
        return STATUS_OK;
    }

    private static long writeStatus(final ChainWriter out, final int status)
    {
        try
        {
            out.writeInt(status);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return out.written();
    }

    @Override
    public void reset()
    {
        answered = 0;
    }
}
