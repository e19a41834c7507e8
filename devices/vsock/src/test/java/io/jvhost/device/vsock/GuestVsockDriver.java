package io.jvhost.device.vsock;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VirtioSession;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A guest virtio-vsock transport's view of a started session's queues, as Linux's driver keeps them: half the rx ring
 * posted with {@value #RX_BUFFER}-byte buffers, one tx buffer per packet (44-byte header and payload) from a pool of its
 * own, each packet waited for until the device returns it. One stream's addresses: {@code cid:port} to
 * {@code peerCid:peerPort}, with the guest's {@code buf_alloc}.
 */
class GuestVsockDriver
{
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final int HEADER = 44;
    static final int QUEUE = 128;
    static final int RX_BUFFER = HEADER + 4096;
    private static final int TX_SLOT = HEADER + 65536;

    final GuestRam ram;
    final VirtioSession session;
    final long cid;
    final long peerCid;
    final int port;
    final int peerPort;
    final int bufAlloc;
    final long[] rxBuffers = new long[QUEUE];
    final long txPool;
    private final Duration txWait;
    private int txSlot;

    GuestVsockDriver(final GuestRam ram, final VirtioSession session, final long cid, final long peerCid,
        final int port, final int peerPort, final int bufAlloc, final Duration wait) throws Exception
    {
        this.ram = ram;
        this.session = session;
        this.cid = cid;
        this.peerCid = peerCid;
        this.port = port;
        this.peerPort = peerPort;
        this.bufAlloc = bufAlloc;
        this.txWait = wait;
        for (int i = 0; i < QUEUE / 2; i++)
        {
            post(ram.allocate(RX_BUFFER, 8));
        }
        rx().publishAndKick();
        txPool = ram.allocate(QUEUE * (long)TX_SLOT, 4096);
    }

    final FrontendQueue rx()
    {
        return session.queue(VsockDevice.RX);
    }

    final FrontendQueue tx()
    {
        return session.queue(VsockDevice.TX);
    }

    /** Offers the rx buffer at {@code gpa} (again); the caller publishes. */
    final void post(final long gpa)
    {
        rxBuffers[rx().add(new long[] {gpa}, new int[] {RX_BUFFER}, 0, 1)] = gpa;
    }

    /**
     * Sends one packet of this stream, {@code len} payload bytes from {@code payload} at {@code offset}, reporting
     * {@code fwdCnt}, and waits until the device has returned its buffer.
     */
    final void send(final int op, final int len, final byte[] payload, final int offset, final int fwdCnt)
        throws Exception
    {
        final long gpa = txPool + (txSlot++ % (QUEUE / 2)) * (long)TX_SLOT;
        final MemorySegment h = MemorySegment.ofArray(new byte[HEADER]);
        h.set(U64, 0, cid);
        h.set(U64, 8, peerCid);
        h.set(U32, 16, port);
        h.set(U32, 20, peerPort);
        h.set(U32, 24, len);
        h.set(U16, 28, (short)1);
        h.set(U16, 30, (short)op);
        h.set(U32, 36, bufAlloc);
        h.set(U32, 40, fwdCnt);
        ram.write(gpa, h, 0, HEADER);
        if (len > 0)
        {
            ram.write(gpa + HEADER, payload, offset, len);
        }
        tx().add(new long[] {gpa}, new int[] {HEADER + len}, 1, 0);
        tx().publishAndKick();
        assertThat(tx().awaitUsed(txWait)).as("tx buffer returned").isEqualTo(1);
    }
}
