package io.jvhost.benchmarks.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.os.NativeException;
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

    /**
     * Queues this command alone, publishes it and waits for it.
     *
     * @return its response type.
     */
    int call(final long timeoutNanos, final String what) throws NativeException
    {
        add();
        control.publishAndKick();
        awaitUsed(control, timeoutNanos, 1, what);
        return responseType();
    }

    /**
     * {@link #call}, and an IllegalStateException naming {@code what} unless the response type is {@code expected}.
     */
    void expect(final long timeoutNanos, final String what, final int expected) throws NativeException
    {
        final int type = call(timeoutNanos, what);
        if (type != expected)
        {
            throw new IllegalStateException(what + " answered 0x" + Integer.toHexString(type) + ", expected 0x"
                + Integer.toHexString(expected));
        }
    }

    /**
     * Waits until the back-end has returned {@code count} commands on {@code control}, none taking longer than
     * {@code timeoutNanos}; else the back-end is stuck: an IllegalStateException naming {@code what}.
     */
    static void awaitUsed(final FrontendQueue control, final long timeoutNanos, final int count, final String what)
        throws NativeException
    {
        int got = 0;
        while (got < count)
        {
            final int n = control.awaitUsed(timeoutNanos);
            if (n == 0)
            {
                throw new IllegalStateException(what + ": the back-end returned " + got + " of " + count
                    + " commands within " + timeoutNanos / 1_000_000 + " ms");
            }
            got += n;
        }
    }
}
