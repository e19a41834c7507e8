package io.jvhost.device.vsock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.jvhost.os.Errno;
import io.jvhost.os.StreamFd;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;

/**
 * One stream between a guest port and a host Unix socket: its state, the packets it owes the guest, and both
 * directions' credit.
 * <p>
 * A stream to a sibling VM (another guest of this process) is the same thing: its socket is one end of a socket pair
 * whose other end is the sibling device's connection, so credit, buffering, shutdown and reset work unchanged, each
 * device forwarding between its own guest and its end of the pair. The remote end is then that sibling's CID and
 * port instead of the host's.
 * <p>
 * Guest to host, the guest may have at most {@code bufAlloc} bytes in flight (received but not yet forwarded): they
 * wait in this connection's buffer of exactly that size until the host socket takes them, so a slow host reader
 * fills only its own buffer and then the guest's credit for this connection runs out. Host to guest, we read from the
 * socket only as much as the guest's credit allows ({@link #credit()}). Counters wrap as the spec's u32 fields do.
 */
final class VsockConnection
{
    /** Host-initiated: REQUEST owed or sent, waiting for the guest's RESPONSE. */
    static final int CONNECTING = 0;
    static final int ESTABLISHED = 1;
    /** The guest shut both directions down: forward what is buffered, then RST and close. */
    static final int CLOSING = 2;
    /** The host side is gone and we said SHUTDOWN: waiting for the guest's RST. */
    static final int HOST_CLOSED = 3;
    /** Guest-initiated to a sibling VM: waiting for the sibling's guest to accept (the OK line on the socket). */
    static final int AWAITING_PEER = 4;

    /** Packets owed to the guest (bits), sent in this order. */
    static final int OWE_RST = 1;
    static final int OWE_REQUEST = 2;
    static final int OWE_RESPONSE = 4;
    static final int OWE_SHUTDOWN = 8;
    static final int OWE_CREDIT_UPDATE = 16;
    static final int OWE_CREDIT_REQUEST = 32;
    /** Host data is waiting to be read into a receive buffer. */
    static final int OWE_RW = 64;

    /** {@link #flush()} results. */
    static final int FLUSHED = 0;
    static final int BLOCKED = 1;

    final int slot;
    /** The other end's CID: the host's (2) or a sibling VM's. */
    final long remoteCid;
    final long key;
    final int localPort;
    final int peerPort;
    final StreamFd socket;
    final ChainWriter.Transfer readFromHost;
    private final ChainReader.Transfer writeToHost;
    final boolean hostInitiated;
    private final int bufAlloc;

    int state;
    int owed;
    /** In the device's queue of connections that owe the guest something. */
    boolean queued;
    int epollMask;
    /** Host socket reported end of stream or hang-up. */
    boolean hostEof;
    /** The guest said SHUTDOWN_SEND: the host gets end of stream once the buffer is forwarded. */
    boolean guestSendDone;
    /** The guest said SHUTDOWN_RCV: nothing more is read from the host for it. */
    boolean guestRecvDone;
    boolean hostOutputShut;
    /** {@link #AWAITING_PEER}: bytes of the sibling's answer line read so far. */
    int answerLength;

    private Arena arena;
    private MemorySegment buffer;
    private long received;
    private long forwarded;
    /** {@link #forwarded} as the guest last heard it (every packet we send carries fwd_cnt). */
    private long lastReportedFwd;

    private int peerBufAlloc;
    private int peerFwdCnt;
    private int txCnt;
    private boolean creditRequested;

    VsockConnection(final int slot, final int localPort, final int peerPort, final StreamFd socket,
        final boolean hostInitiated, final int bufAlloc)
    {
        this(slot, VsockDevice.HOST_CID, localPort, peerPort, socket, hostInitiated ? CONNECTING : ESTABLISHED,
            hostInitiated, bufAlloc);
    }

    /**
     * @param remoteCid the other end's CID; {@code localPort} is its port.
     * @param state     the first state: {@link #CONNECTING}, {@link #ESTABLISHED} or {@link #AWAITING_PEER}.
     */
    VsockConnection(final int slot, final long remoteCid, final int localPort, final int peerPort,
        final StreamFd socket, final int state, final boolean hostInitiated, final int bufAlloc)
    {
        this.slot = slot;
        this.remoteCid = remoteCid;
        this.key = key(localPort, peerPort);
        this.localPort = localPort;
        this.peerPort = peerPort;
        this.socket = socket;
        this.readFromHost = socket::read;
        this.writeToHost = socket::write;
        this.hostInitiated = hostInitiated;
        this.bufAlloc = bufAlloc;
        this.state = state;
    }

    /** @return true before the guest and the other end both agreed to the stream. */
    boolean opening()
    {
        return state == CONNECTING || state == AWAITING_PEER;
    }

    static long key(final int localPort, final int peerPort)
    {
        return (long)localPort << 32 | Integer.toUnsignedLong(peerPort);
    }

    int bufAlloc()
    {
        return bufAlloc;
    }

    /** @return bytes forwarded to the host, as the wire's fwd_cnt. */
    int fwdCnt()
    {
        return (int)forwarded;
    }

    /** @return guest bytes waiting for the host socket. */
    long buffered()
    {
        return received - forwarded;
    }

    /**
     * Takes the credit fields every guest packet carries.
     *
     * @return true when the guest's credit went from none to some (host reading may resume).
     */
    boolean peerCredit(final int bufAllocField, final int fwdCntField)
    {
        final boolean had = credit() > 0;
        peerBufAlloc = bufAllocField;
        peerFwdCnt = fwdCntField;
        final boolean has = credit() > 0;
        if (has)
        {
            creditRequested = false;
        }
        return !had && has;
    }

    /** @return bytes the guest can take now: its buf_alloc less what we sent and it has not consumed. */
    long credit()
    {
        final long inFlight = Integer.toUnsignedLong(txCnt - peerFwdCnt);
        return Math.max(0, Integer.toUnsignedLong(peerBufAlloc) - inFlight);
    }

    void sent(final long bytes)
    {
        txCnt += (int)bytes;
    }

    /** @return true once per credit exhaustion: ask the guest for an update (it may not send one by itself). */
    boolean shouldRequestCredit()
    {
        if (creditRequested)
        {
            return false;
        }
        creditRequested = true;
        return true;
    }

    /**
     * Takes an RW payload: when no guest data is waiting before it, straight from guest memory to the host socket
     * (no copy); what the socket does not take now is copied into the buffer, to be forwarded by {@link #flush()}.
     *
     * @return the bytes copied into the buffer, or -1 when the payload does not fit the credit we advertised (the guest
     *     broke flow control).
     */
    long accept(final ChainReader reader, final long length) throws ChainAccessException
    {
        if (length > bufAlloc - buffered())
        {
            return -1;
        }
        long left = length;
        if (received == forwarded && left > 0)
        {
            // A failed send (EAGAIN, or an error flush() meets again and reports) takes nothing: all is copied.
            final long n = reader.transferTo(writeToHost, left);
            if (n > 0)
            {
                received += n;
                forwarded += n;
                left -= n;
            }
        }
        if (left == 0)
        {
            return 0;
        }
        if (null == buffer)
        {
            // Once per connection, and only for one whose host reader fell behind.
            arena = Arena.ofShared();
            buffer = arena.allocate(bufAlloc, 8);
        }
        final long pos = received % bufAlloc;
        final long first = Math.min(left, bufAlloc - pos);
        reader.read(buffer, pos, first);
        if (first < left)
        {
            reader.read(buffer, 0, left - first);
        }
        received += left;
        return left;
    }

    /**
     * Writes buffered guest bytes to the host socket, as much as it takes.
     *
     * @return {@link #FLUSHED}, {@link #BLOCKED}, or {@code -errno} when the socket failed.
     */
    int flush()
    {
        while (received > forwarded)
        {
            final long pos = forwarded % bufAlloc;
            final long span = Math.min(received - forwarded, bufAlloc - pos);
            final long n = socket.write(buffer.address() + pos, span);
            if (n < 0)
            {
                return n == -Errno.EAGAIN ? BLOCKED : (int)n;
            }
            forwarded += n;
            if (n < span)
            {
                return BLOCKED;
            }
        }
        return FLUSHED;
    }

    /**
     * Whether the guest should hear our fwd_cnt now. A guest sends as far as its credit goes (buf_alloc less what it
     * sent since the fwd_cnt it last heard) and stalls only when that runs out, so a CREDIT_UPDATE is owed only once
     * it has used three quarters of it, and then only when it gains something worth a packet: a quarter of the
     * buffer, or everything it sent forwarded (a stalled guest always gets one, however small the buffer). A guest
     * writing small packets to a host reader that keeps up thus hears one update per three quarters of the buffer,
     * not one per packet.
     */
    boolean creditWorthReporting()
    {
        final long unreported = forwarded - lastReportedFwd;
        final long inFlightForTheGuest = received - lastReportedFwd;
        return unreported > 0 && 4 * inFlightForTheGuest >= 3L * bufAlloc
            && (4 * unreported >= bufAlloc || received == forwarded);
    }

    /** Every packet we send carries fwd_cnt: the guest has now heard it. */
    void reported()
    {
        lastReportedFwd = forwarded;
    }

    /**
     * Closes the host socket and frees the buffer (once).
     */
    void close()
    {
        socket.close();
        if (null != arena)
        {
            arena.close();
            arena = null;
            buffer = null;
        }
    }

    /** @return the flow-control state, for diagnostics. */
    String describe()
    {
        return this + ": state " + state + ", owed 0x" + Integer.toHexString(owed) + ", epoll 0x"
            + Integer.toHexString(epollMask) + ", buffered " + buffered() + ", received " + received + ", forwarded "
            + forwarded + ", reported fwd " + lastReportedFwd + ", credit to the guest "
            + credit() + ", host eof " + hostEof;
    }

    @Override
    public String toString()
    {
        return (remoteCid == VsockDevice.HOST_CID ? "host port " : "CID " + remoteCid + " port ")
            + Integer.toUnsignedString(localPort) + " <-> guest port " + Integer.toUnsignedString(peerPort);
    }
}
