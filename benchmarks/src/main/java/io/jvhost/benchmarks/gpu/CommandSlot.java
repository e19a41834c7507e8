package io.jvhost.benchmarks.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * One virtio-gpu command's buffers in guest RAM, written once and reused: the request (device-readable), optional
 * extra data (its own descriptor, e.g. ATTACH_BACKING's entries or SUBMIT_3D's command stream) and the response
 * (device-writable), put on the control queue as one INDIRECT descriptor, as Linux does once
 * VIRTIO_RING_F_INDIRECT_DESC is negotiated. The hot loops patch request fields in place and allocate nothing.
 */
final class CommandSlot
{
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final MemorySegment request;
    final MemorySegment response;
    private final FrontendQueue control;
    private final long[] gpas;
    private final int[] lengths;
    private final int outs;

    CommandSlot(final GuestRam ram, final FrontendQueue control, final int type, final int requestSize,
        final long extraGpa, final int extraSize, final int responseSize)
    {
        this.control = control;
        final long requestGpa = ram.allocate(requestSize, 64);
        final long responseGpa = ram.allocate(responseSize, 64);
        request = ram.slice(requestGpa, requestSize);
        response = ram.slice(responseGpa, responseSize);
        request.fill((byte)0);
        request.set(U32, 0, type);
        if (extraSize > 0)
        {
            gpas = new long[] {requestGpa, extraGpa, responseGpa};
            lengths = new int[] {requestSize, extraSize, responseSize};
            outs = 2;
        }
        else
        {
            gpas = new long[] {requestGpa, responseGpa};
            lengths = new int[] {requestSize, responseSize};
            outs = 1;
        }
    }

    /** Changes the extra data's length (the descriptor of a SUBMIT_3D stream of another size). */
    void extraLength(final int bytes)
    {
        if (outs != 2)
        {
            throw new IllegalStateException("this command has no extra data");
        }
        lengths[1] = bytes;
    }

    /** Queues the command (not yet published: {@link FrontendQueue#publishAndKick()}). */
    void add()
    {
        response.set(U32, 0, 0);
        if (control.addIndirect(gpas, lengths, outs, 1) < 0)
        {
            throw new IllegalStateException("control queue full");
        }
    }

    int responseType()
    {
        return response.get(U32, 0);
    }
}
