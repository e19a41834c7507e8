package io.jvhost.e2e.support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * A guest's virtio-gpu control queue without a kernel, the part {@link GpuControl} and {@link Gpu3dControl} share: one
 * command at a time, the request (and any data after it) in device-readable buffers, the response after them; each
 * call waits for its response. Layouts are the virtio spec's (5.7.6), written with literal offsets.
 */
abstract class GpuControlQueue
{
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int REQUEST_MAX = 96;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    final GuestRam ram;
    /** The request being built (zeroed by {@link #start}). */
    final MemorySegment request;
    final MemorySegment response;
    private final FrontendQueue control;
    private final long requestGpa;
    private final long responseGpa;

    GpuControlQueue(final GuestRam ram, final FrontendQueue control, final int responseMax)
    {
        this.ram = ram;
        this.control = control;
        this.requestGpa = ram.allocate(REQUEST_MAX, 64);
        this.responseGpa = ram.allocate(responseMax, 64);
        this.request = ram.slice(requestGpa, REQUEST_MAX);
        this.response = ram.slice(responseGpa, responseMax);
    }

    /** Starts a request of {@code type}: the request zeroed, the type in its header. */
    final void start(final int type)
    {
        request.fill((byte)0);
        request.set(U32, 0, type);
    }

    /**
     * Sends the first {@code size} bytes of the request, then {@code extraSize} bytes at {@code extraGpa} (none when
     * 0), with a {@code responseSize}-byte response buffer, and waits for the answer.
     *
     * @return the response's type.
     */
    final int send(final int size, final long extraGpa, final int extraSize, final int responseSize)
        throws NativeException
    {
        response.fill((byte)0);
        final long[] gpas = extraSize > 0 ? new long[] {requestGpa, extraGpa, responseGpa}
            : new long[] {requestGpa, responseGpa};
        final int[] lengths = extraSize > 0 ? new int[] {size, extraSize, responseSize}
            : new int[] {size, responseSize};
        if (control.add(gpas, lengths, gpas.length - 1, 1) < 0)
        {
            throw new IllegalStateException("control queue full");
        }
        control.publishAndKick();
        if (0 == control.awaitUsed(TIMEOUT))
        {
            throw new IllegalStateException("command 0x" + Integer.toHexString(request.get(U32, 0))
                + " not answered within " + TIMEOUT);
        }
        return response.get(U32, 0);
    }
}
