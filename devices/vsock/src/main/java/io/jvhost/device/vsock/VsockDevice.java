package io.jvhost.device.vsock;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.StreamFd;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-vsock (virtio ID 19), stream sockets only, whose host side is hybrid vsock over Unix sockets
 * ({@link UdsHost}): the guest connecting to host port P reaches {@code <uds-path>_P}; a host program connecting to
 * {@code <uds-path>} and sending {@code CONNECT P\n} reaches guest port P and is answered {@code OK <host port>\n}.
 * <pre>
 *  queue 0 rx    (device to driver)  RESPONSE/REQUEST/RST/SHUTDOWN/CREDIT_*, and host data as RW
 *  queue 1 tx    (driver to device)  every guest packet; payload sent to the host socket from guest memory,
 *                                    what it does not take copied into its connection's buffer
 *  queue 2 event (device to driver)  TRANSPORT_RESET once after the back-end's state was lost
 * </pre>
 * Nothing grows without bound: guest data waits only in its connection's buffer of {@code --tx-buffer-size} bytes,
 * exactly the buf_alloc we advertise (a guest that sends past its credit is reset); host data is read only as far as
 * the guest's credit for that connection and only into a waiting receive buffer; packets owed to the guest are bits
 * on their connection, plus a fixed ring for resets to unknown connections. A transmit buffer is never held, so one
 * connection's slow host reader stalls only that connection (through the guest's credit).
 * <p>
 * All three queues and the host sockets share one worker ({@link DeviceContext#watch} on the rx queue), so the data
 * path needs no locks; the monitor orders it against the protocol thread's start and reset. Allocation-free per
 * packet; a connection allocates when it opens (and its buffer the first time its host reader falls behind). Guest to
 * host, a packet costs one send (no copy) while the host reader keeps up, and the guest hears a CREDIT_UPDATE only
 * once it has used three quarters of its credit ({@link VsockConnection#creditWorthReporting}).
 * <pre>
 * struct virtio_vsock_config (8 bytes): le64 guest_cid
 * </pre>
 */
public final class VsockDevice implements VirtioDevice, UdsHost.Events
{
    public static final int DEVICE_TYPE = 19;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int EVENT = 2;
    public static final int CONFIG_SIZE = 8;
    /** The host's CID, as the guest addresses it. */
    public static final long HOST_CID = 2;
    /** vhost-device-vsock's defaults. */
    public static final int DEFAULT_TX_BUFFER_SIZE = 64 * 1024;
    public static final int DEFAULT_QUEUE_SIZE = 1024;
    public static final long DEFAULT_GUEST_CID = 3;
    /** Open connections per guest; a further REQUEST or CONNECT is refused (RST, closed). */
    public static final int MAX_CONNECTIONS = 1024;
    /** Resets to unknown connections owed at once; beyond that they are dropped (counted, logged). */
    static final int MAX_STRAY_RESETS = 64;
    /** Largest RW payload we put in one receive buffer (Linux's own bound for a packet). */
    static final int MAX_PAYLOAD = 64 * 1024;
    static final int EVENT_TRANSPORT_RESET = 0;
    private static final int FIRST_HOST_PORT = 1024;

    private static final System.Logger LOG = System.getLogger(VsockDevice.class.getName());

    private final String name;
    private final long guestCid;
    private final int txBufferSize;
    private final int queueSize;
    private final UdsHost host;
    private final ConnectionTable table = new ConnectionTable(MAX_CONNECTIONS);
    private final ArrayDeque<VsockConnection> owing = new ArrayDeque<>(MAX_CONNECTIONS + 1);
    private final long[] strayResets = new long[MAX_STRAY_RESETS];
    private final long[] strayCids = new long[MAX_STRAY_RESETS];
    private final SiblingInbox inbox = new SiblingInbox();
    private Siblings siblings;
    private int strayHead;
    private int strayCount;
    private final VsockHeader in = new VsockHeader();
    private final VsockHeader out = new VsockHeader();
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    /**
     * The sibling's answer, read a byte at a time, and a host client's OK line. Freed with the device by the GC:
     * closing a shared arena stops every thread of the process for a handshake, for 32 bytes.
     */
    private final MemorySegment reply = Arena.ofAuto().allocate(32);
    private DeviceContext context;
    private FdWatch watch;
    private boolean owedTransportReset = true;
    private int nextHostPort = FIRST_HOST_PORT;
    private long bytesToGuest;
    private long bytesFromGuest;
    private long bytesBufferedFromGuest;
    private long badPackets;
    private long droppedResets;
    /** Connections refused (guest, host client or sibling; a peer can repeat them at will): logged by LogThrottle. */
    private long refusedConnections;
    private long transportResets;
    private long siblingConnections;

    /**
     * @param guestCid     the guest's CID (3 and up; 0-2 are reserved).
     * @param txBufferSize per connection: bytes of guest data held for a slow host reader (our buf_alloc).
     * @param queueSize    largest ring the driver may use (a power of two).
     * @param host         the host side; closed with {@link #close()}.
     */
    public VsockDevice(final String name, final long guestCid, final int txBufferSize, final int queueSize,
        final UdsHost host)
    {
        if (guestCid < 3 || guestCid > 0xFFFF_FFFEL)
        {
            throw new IllegalArgumentException("guest CID must be 3..4294967294 (0-2 are reserved, -1 is ANY), got "
                + guestCid);
        }
        if (txBufferSize < 1)
        {
            throw new IllegalArgumentException("tx buffer size must be at least 1 byte, got " + txBufferSize);
        }
        if (queueSize < 1 || queueSize > 32768 || Integer.bitCount(queueSize) != 1)
        {
            throw new IllegalArgumentException("queue size must be a power of two in 1..32768, got " + queueSize);
        }
        this.name = name;
        this.guestCid = guestCid;
        this.txBufferSize = txBufferSize;
        this.queueSize = queueSize;
        this.host = host;
        config.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, guestCid);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "vsock";
    }

    @Override
    public int queueCount()
    {
        return 3;
    }

    @Override
    public int maxQueueSize()
    {
        return queueSize;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE;
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        ConfigSpace.read(config, offset, dst);
    }

    @Override
    public void writeConfig(final int offset, final MemorySegment src)
    {
        LOG.log(Level.WARNING, name + ": config write of " + src.byteSize() + " bytes at offset " + offset
            + " ignored: guest_cid is read-only");
    }

    @Override
    public synchronized void attach(final DeviceContext newContext)
    {
        this.context = newContext;
    }

    @Override
    public void queueStarted(final int queue)
    {
        final DeviceContext c;
        synchronized (this)
        {
            c = null == watch ? context : null;
        }
        if (null != c)
        {
            final FdWatch w = c.watch(RX, host.pollFd(), this::hostReady);
            synchronized (this)
            {
                if (null == watch && c == context)
                {
                    watch = w;
                    if (null != w)
                    {
                        inbox.open(c);
                    }
                    return;
                }
            }
            if (null != w)
            {
                w.close();
            }
        }
    }

    /**
     * On the worker: a host socket is ready. The rx queue is served right after this.
     */
    synchronized void hostReady()
    {
        host.poll(this);
    }

    @Override
    public synchronized void processQueue(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case RX -> receive(queue);
            case TX -> transmit(queue);
            case EVENT -> sendEvent(queue);
            default -> throw new IllegalStateException("no queue " + queue.index());
        }
    }

    // ---------------------------------------------------------------- guest to host

    private void transmit(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            try
            {
                guestPacket(chain);
            }
            catch (final ChainAccessException e)
            {
                // Lengths were checked against the chain first; a fault here is guest memory gone under us.
                bad(chain, "guest packet unreadable: " + e.getMessage());
            }
            queue.complete(chain, 0);
        }
        if (!owing.isEmpty() || strayCount > 0)
        {
            wake(RX);
        }
    }

    private void guestPacket(final DescriptorChain chain) throws ChainAccessException
    {
        final long readable = chain.readableBytes();
        if (readable < VsockHeader.SIZE)
        {
            bad(chain, "tx buffer of " + readable + " bytes, shorter than the 44-byte header");
            return;
        }
        final ChainReader reader = chain.reader();
        reader.read(in.bytes(), 0, VsockHeader.SIZE);
        final int op = in.op();
        final int hostPort = in.dstPort();
        final int guestPort = in.srcPort();
        if (in.srcCid() != guestCid)
        {
            bad(chain, VsockHeader.opName(op) + " from CID " + in.srcCid() + ", but the guest's CID is " + guestCid
                + "; dropped");
            return;
        }
        final long remoteCid = in.dstCid();
        if (remoteCid < HOST_CID || remoteCid > 0xFFFF_FFFEL)
        {
            bad(chain, VsockHeader.opName(op) + " to CID " + Long.toUnsignedString(remoteCid)
                + ": not a host or guest CID");
            strayReset(op, remoteCid, hostPort, guestPort);
            return;
        }
        if (in.type() != VsockHeader.TYPE_STREAM)
        {
            bad(chain, VsockHeader.opName(op) + " of socket type " + in.type() + ": only streams (1) are offered");
            strayReset(op, remoteCid, hostPort, guestPort);
            return;
        }
        final long len = in.len();
        final VsockConnection c = table.get(remoteCid, hostPort, guestPort);
        if (len > readable - VsockHeader.SIZE || len > 0 && op != VsockHeader.OP_RW)
        {
            bad(chain, VsockHeader.opName(op) + " claims " + len + " payload bytes, the buffer holds "
                + (readable - VsockHeader.SIZE));
            if (null != c)
            {
                resetConnection(c, "sent a malformed packet");
            }
            else
            {
                strayReset(op, remoteCid, hostPort, guestPort);
            }
            return;
        }
        if (null == c)
        {
            if (op != VsockHeader.OP_REQUEST)
            {
                strayReset(op, remoteCid, hostPort, guestPort);
            }
            else if (remoteCid == HOST_CID)
            {
                guestConnect(hostPort, guestPort);
            }
            else
            {
                siblingConnect(remoteCid, hostPort, guestPort);
            }
            return;
        }
        if (c.peerCredit(in.bufAlloc(), in.fwdCnt()) && !c.opening())
        {
            // Host data may have waited for this credit; no new edge will say so.
            owe(c, VsockConnection.OWE_RW);
        }
        switch (op)
        {
            case VsockHeader.OP_RESPONSE -> response(c);
            case VsockHeader.OP_RST -> remove(c, "reset by the guest");
            case VsockHeader.OP_SHUTDOWN -> shutdown(c, in.flags());
            case VsockHeader.OP_RW -> data(c, reader, len);
            case VsockHeader.OP_CREDIT_UPDATE ->
            {
                // The credit fields were taken above.
            }
            case VsockHeader.OP_CREDIT_REQUEST -> owe(c, VsockConnection.OWE_CREDIT_UPDATE);
            case VsockHeader.OP_REQUEST -> resetConnection(c, "asked to connect again while connected");
            default ->
            {
                bad(chain, "unknown op " + op);
                resetConnection(c, "sent an unknown op");
            }
        }
    }

    private void guestConnect(final int hostPort, final int guestPort)
    {
        final int slot = table.reserveSlot();
        if (slot < 0)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.WARNING, name + ": guest port " + Integer.toUnsignedString(guestPort) + " refused: "
                    + MAX_CONNECTIONS + " connections open"
                    + " (" + refusedConnections + " refused so far)");
            }
            strayReset(VsockHeader.OP_REQUEST, HOST_CID, hostPort, guestPort);
            return;
        }
        final StreamFd socket;
        try
        {
            socket = host.connectToPort(hostPort);
        }
        catch (final NativeException e)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.INFO, name + ": guest port " + Integer.toUnsignedString(guestPort) + " to host port "
                    + Integer.toUnsignedString(hostPort) + " refused: " + e.getMessage()
                    + " (" + refusedConnections + " refused so far)");
            }
            strayReset(VsockHeader.OP_REQUEST, HOST_CID, hostPort, guestPort);
            return;
        }
        final VsockConnection c = new VsockConnection(slot, hostPort, guestPort, socket, false, txBufferSize);
        c.peerCredit(in.bufAlloc(), in.fwdCnt());
        if (!open(c))
        {
            strayReset(VsockHeader.OP_REQUEST, HOST_CID, hostPort, guestPort);
            return;
        }
        owe(c, VsockConnection.OWE_RESPONSE);
        LOG.log(Level.INFO, name + ": guest connected: " + c);
    }

    /**
     * The guest connects to a sibling VM: a socket pair joins this connection to one the sibling opens towards its
     * guest (as for a host client's CONNECT); the guest hears RESPONSE when the sibling's guest accepted (the sibling
     * writes its OK line), RST when it refused or is unreachable.
     */
    private void siblingConnect(final long remoteCid, final int remotePort, final int guestPort)
    {
        final VsockDevice sibling = null == siblings ? null : siblings.reachable(guestCid, remoteCid);
        if (null == sibling)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.INFO, name + ": guest port " + Integer.toUnsignedString(guestPort) + " to CID "
                    + remoteCid + " port " + Integer.toUnsignedString(remotePort) + " refused: "
                    + (null == siblings ? "no sibling VMs" : siblings.whyUnreachable(guestCid, remoteCid))
                    + " (" + refusedConnections + " refused so far)");
            }
            strayReset(VsockHeader.OP_REQUEST, remoteCid, remotePort, guestPort);
            return;
        }
        final int slot = table.reserveSlot();
        if (slot < 0)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.WARNING, name + ": guest port " + Integer.toUnsignedString(guestPort) + " refused: "
                    + MAX_CONNECTIONS + " connections open"
                    + " (" + refusedConnections + " refused so far)");
            }
            strayReset(VsockHeader.OP_REQUEST, remoteCid, remotePort, guestPort);
            return;
        }
        final StreamFd[] pair;
        try
        {
            pair = StreamFd.pair();
        }
        catch (final NativeException e)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.WARNING, name + ": guest port " + Integer.toUnsignedString(guestPort) + " to CID "
                    + remoteCid + " refused: " + e.getMessage()
                    + " (" + refusedConnections + " refused so far)");
            }
            strayReset(VsockHeader.OP_REQUEST, remoteCid, remotePort, guestPort);
            return;
        }
        final VsockConnection c = new VsockConnection(slot, remoteCid, remotePort, guestPort, pair[0],
            VsockConnection.AWAITING_PEER, false, txBufferSize);
        c.peerCredit(in.bufAlloc(), in.fwdCnt());
        if (!open(c))
        {
            pair[1].close();
            strayReset(VsockHeader.OP_REQUEST, remoteCid, remotePort, guestPort);
            return;
        }
        if (!sibling.inbox.offer(new SiblingInbox.Request(guestCid, guestPort, remotePort, pair[1])))
        {
            pair[1].close();
            remove(c, "refused: CID " + remoteCid + " has no driver running or too many requests waiting");
            strayReset(VsockHeader.OP_REQUEST, remoteCid, remotePort, guestPort);
            return;
        }
        LOG.log(Level.INFO, name + ": guest connecting to a sibling: " + c);
    }

    /**
     * {@link VsockConnection#AWAITING_PEER}: reads the sibling's answer a byte at a time (what follows it is the
     * sibling guest's data, left for the data path): {@code OK <port>\n} means its guest accepted; end of stream means
     * it refused.
     */
    private void awaitPeer(final VsockConnection c)
    {
        while (true)
        {
            final long n = c.socket.read(reply.address(), 1);
            if (n == -Errno.EAGAIN)
            {
                return;
            }
            if (n <= 0)
            {
                resetConnection(c, n == 0 ? "refused (the sibling's guest did not accept)"
                    : "failed: " + Errno.name((int)-n));
                return;
            }
            final byte b = reply.get(ValueLayout.JAVA_BYTE, 0);
            final int i = c.answerLength++;
            final boolean fits = i < 3 ? b == "OK ".charAt(i)
                : b == '\n' ? i > 3 : b >= '0' && b <= '9' && i < 13;
            if (!fits)
            {
                resetConnection(c, "answered with a malformed line (byte " + i + " is " + (b & 0xFF) + ")");
                return;
            }
            if (b == '\n')
            {
                c.state = VsockConnection.ESTABLISHED;
                siblingConnections++;
                LOG.log(Level.INFO, name + ": sibling accepted: " + c);
                // Data the sibling's guest sent at once sits behind the line; no new edge will say so.
                owe(c, VsockConnection.OWE_RESPONSE | VsockConnection.OWE_RW);
                return;
            }
        }
    }

    private boolean open(final VsockConnection c)
    {
        c.epollMask = SOCKET_EVENTS;
        try
        {
            host.watch(c.socket, c.slot, c.epollMask);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, name + ": cannot watch the socket of " + c + ": " + e.getMessage());
            c.close();
            return false;
        }
        table.add(c);
        return true;
    }

    private void response(final VsockConnection c)
    {
        if (c.state != VsockConnection.CONNECTING)
        {
            resetConnection(c, "sent RESPONSE while not connecting");
            return;
        }
        final byte[] ok = ("OK " + Integer.toUnsignedString(c.localPort) + "\n").getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(ok, 0, reply, ValueLayout.JAVA_BYTE, 0, ok.length);
        final long n = c.socket.write(reply.address(), ok.length);
        if (n != ok.length)
        {
            // A fresh socket takes a few bytes at once; anything else means the client is gone or hostile.
            resetConnection(c, "host client did not take its OK line ("
                + (n < 0 ? Errno.name((int)-n) : n + " of " + ok.length + " bytes") + ")");
            return;
        }
        c.state = VsockConnection.ESTABLISHED;
        LOG.log(Level.INFO, name + ": host connected: " + c);
        // The client may have written before the guest accepted; that edge was not acted on.
        owe(c, VsockConnection.OWE_RW);
    }

    private void shutdown(final VsockConnection c, final int flags)
    {
        if ((flags & VsockHeader.SHUTDOWN_RCV) != 0)
        {
            c.guestRecvDone = true;
        }
        if ((flags & VsockHeader.SHUTDOWN_SEND) != 0)
        {
            c.guestSendDone = true;
        }
        if (c.state == VsockConnection.HOST_CLOSED
            || c.guestRecvDone && c.guestSendDone && !c.opening())
        {
            c.state = c.state == VsockConnection.HOST_CLOSED ? c.state : VsockConnection.CLOSING;
        }
        if (c.opening())
        {
            resetConnection(c, "sent SHUTDOWN while not connected");
            return;
        }
        flush(c);
    }

    private void data(final VsockConnection c, final ChainReader reader, final long len)
        throws ChainAccessException
    {
        if (c.state == VsockConnection.HOST_CLOSED)
        {
            // The host side left; the guest has been told (SHUTDOWN) and its data has nowhere to go.
            return;
        }
        if (c.state != VsockConnection.ESTABLISHED || c.guestSendDone)
        {
            resetConnection(c, "sent data " + (c.guestSendDone ? "after SHUTDOWN" : "before the connection was up"));
            return;
        }
        final long copied = c.accept(reader, len);
        if (copied < 0)
        {
            resetConnection(c, "sent " + len + " bytes with " + c.buffered() + " of its " + c.bufAlloc()
                + "-byte credit in flight");
            return;
        }
        bytesFromGuest += len;
        bytesBufferedFromGuest += copied;
        flush(c);
    }

    /**
     * Forwards buffered guest data; then ends the host's input if the guest said so, and closes if both did.
     */
    private void flush(final VsockConnection c)
    {
        if (c.state == VsockConnection.HOST_CLOSED)
        {
            if (c.guestSendDone && c.guestRecvDone)
            {
                resetConnection(c, null);
            }
            return;
        }
        final int r = c.flush();
        if (r < 0)
        {
            hostGone(c, "failed: send " + Errno.name(-r));
            return;
        }
        if (!watchWritable(c, r == VsockConnection.BLOCKED))
        {
            return;
        }
        if (c.creditWorthReporting())
        {
            owe(c, VsockConnection.OWE_CREDIT_UPDATE);
        }
        if (r == VsockConnection.FLUSHED)
        {
            if (c.state == VsockConnection.CLOSING)
            {
                resetConnection(c, null);
                return;
            }
            if (c.guestSendDone && !c.hostOutputShut)
            {
                c.hostOutputShut = true;
                c.socket.shutdownOutput();
            }
        }
    }

    /**
     * Watches the socket for {@code EPOLLOUT} exactly while guest data waits for it (one epoll_ctl when the host reader
     * falls behind, one when it caught up). Adding it reports the socket at once if it became writable meanwhile.
     *
     * @return false when epoll refused (the connection is reset).
     */
    private boolean watchWritable(final VsockConnection c, final boolean blocked)
    {
        if (blocked == ((c.epollMask & LibC.EPOLLOUT) != 0))
        {
            return true;
        }
        final int mask = blocked ? SOCKET_EVENTS | LibC.EPOLLOUT : SOCKET_EVENTS;
        try
        {
            host.modify(c.socket, c.slot, mask);
        }
        catch (final NativeException e)
        {
            resetConnection(c, "cannot be watched (" + e.getMessage() + ")");
            return false;
        }
        c.epollMask = mask;
        return true;
    }

    // ---------------------------------------------------------------- host to guest

    @Override
    public void hostRequest(final int port, final StreamFd client)
    {
        final int slot = table.reserveSlot();
        if (slot < 0 || null == watch)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.WARNING, name + ": host client for guest port " + Integer.toUnsignedString(port)
                    + " refused: " + (slot < 0 ? MAX_CONNECTIONS + " connections open" : "no guest driver running")
                    + " (" + refusedConnections + " refused so far)");
            }
            client.close();
            return;
        }
        int local = nextHostPort;
        while (null != table.get(HOST_CID, local, port))
        {
            local = local == Integer.MAX_VALUE ? FIRST_HOST_PORT : local + 1;
        }
        nextHostPort = local == Integer.MAX_VALUE ? FIRST_HOST_PORT : local + 1;
        final VsockConnection c = new VsockConnection(slot, local, port, client, true, txBufferSize);
        if (open(c))
        {
            owe(c, VsockConnection.OWE_REQUEST);
        }
    }

    /**
     * On the worker: a sibling's guest asks for a port of ours. Like a host client's CONNECT, except that the guest
     * sees the sibling's CID and port as the remote end; the OK line goes back through the socket pair.
     */
    private void siblingRequest(final SiblingInbox.Request r)
    {
        final int slot = table.reserveSlot();
        final String refused = slot < 0 ? MAX_CONNECTIONS + " connections open"
            : null == watch ? "no guest driver running"
            : null != table.get(r.fromCid(), r.fromPort(), r.toPort()) ? "that port pair is still open" : null;
        if (null != refused)
        {
            if (LogThrottle.due(++refusedConnections))
            {
                LOG.log(Level.WARNING, name + ": CID " + r.fromCid() + " port " + Integer.toUnsignedString(r.fromPort())
                    + " to guest port " + Integer.toUnsignedString(r.toPort()) + " refused: " + refused
                    + " (" + refusedConnections + " refused so far)");
            }
            r.socket().close();
            return;
        }
        final VsockConnection c = new VsockConnection(slot, r.fromCid(), r.fromPort(), r.toPort(), r.socket(),
            VsockConnection.CONNECTING, true, txBufferSize);
        if (open(c))
        {
            owe(c, VsockConnection.OWE_REQUEST);
        }
    }

    @Override
    public void connectionReady(final int slot, final int mask)
    {
        final VsockConnection c = table.bySlot(slot);
        if (null == c || c.state == VsockConnection.HOST_CLOSED)
        {
            return;
        }
        if ((mask & (LibC.EPOLLHUP | LibC.EPOLLERR | LibC.EPOLLRDHUP)) != 0)
        {
            c.hostEof = true;
        }
        if (c.state == VsockConnection.CONNECTING)
        {
            if (c.hostEof)
            {
                resetConnection(c, "host client left before the guest accepted");
            }
            return;
        }
        if (c.state == VsockConnection.AWAITING_PEER)
        {
            awaitPeer(c);
            return;
        }
        if ((mask & LibC.EPOLLOUT) != 0)
        {
            flush(c);
            if (table.bySlot(slot) != c || c.state == VsockConnection.HOST_CLOSED)
            {
                return;
            }
        }
        if ((mask & (LibC.EPOLLIN | LibC.EPOLLHUP | LibC.EPOLLERR | LibC.EPOLLRDHUP)) != 0)
        {
            // Read when a receive buffer is there (rx processing follows this callback at once).
            owe(c, VsockConnection.OWE_RW);
        }
    }

    private void receive(final DeviceQueue queue)
    {
        SiblingInbox.Request r;
        while (null != (r = inbox.poll()))
        {
            siblingRequest(r);
        }
        while (true)
        {
            if (strayCount > 0)
            {
                final DescriptorChain chain = queue.next();
                if (null == chain)
                {
                    return;
                }
                final long ports = strayResets[strayHead];
                final long from = strayCids[strayHead];
                strayHead = (strayHead + 1) % MAX_STRAY_RESETS;
                strayCount--;
                out.set(from, (int)(ports >>> 32), guestCid, (int)ports, VsockHeader.OP_RST, 0, 0, 0, 0);
                sendHeader(queue, chain);
                continue;
            }
            final VsockConnection c = owing.peekFirst();
            if (null == c)
            {
                return;
            }
            final int bit = Integer.lowestOneBit(c.owed);
            if (bit == VsockConnection.OWE_RW)
            {
                if (!sendData(queue, c))
                {
                    return;
                }
            }
            else
            {
                final DescriptorChain chain = queue.next();
                if (null == chain)
                {
                    return;
                }
                c.owed &= ~bit;
                out.set(c.remoteCid, c.localPort, guestCid, c.peerPort, op(bit), 0, bit == VsockConnection.OWE_SHUTDOWN
                    ? VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND : 0, c.bufAlloc(), c.fwdCnt());
                c.reported();
                sendHeader(queue, chain);
                if (bit == VsockConnection.OWE_RST)
                {
                    owing.pollFirst();
                    c.queued = false;
                    c.owed = 0;
                    table.remove(c);
                    continue;
                }
            }
            owing.pollFirst();
            if (c.owed != 0)
            {
                // Round robin: one packet per connection in turn.
                owing.addLast(c);
            }
            else
            {
                c.queued = false;
            }
        }
    }

    /**
     * Puts as much host data as the guest's credit and one receive buffer allow into an RW packet.
     *
     * @return false when no receive buffer is waiting (stop serving the queue).
     */
    private boolean sendData(final DeviceQueue queue, final VsockConnection c)
    {
        final long credit = c.credit();
        if (c.state != VsockConnection.ESTABLISHED && c.state != VsockConnection.CLOSING || c.guestRecvDone)
        {
            c.owed &= ~VsockConnection.OWE_RW;
            return true;
        }
        if (credit == 0)
        {
            c.owed &= ~VsockConnection.OWE_RW;
            if (c.shouldRequestCredit())
            {
                c.owed |= VsockConnection.OWE_CREDIT_REQUEST;
            }
            return true;
        }
        final int available = c.socket.readable();
        if (available <= 0)
        {
            c.owed &= ~VsockConnection.OWE_RW;
            if (c.hostEof)
            {
                hostGone(c, "closed its end");
            }
            return true;
        }
        final DescriptorChain chain = queue.next();
        if (null == chain)
        {
            return false;
        }
        final long room = chain.writableBytes() - VsockHeader.SIZE;
        if (room <= 0)
        {
            bad(chain, "rx buffer of " + chain.writableBytes() + " bytes: no room after the 44-byte header");
            queue.complete(chain, 0);
            return true;
        }
        final ChainWriter w = chain.writer();
        long n;
        try
        {
            w.fill(VsockHeader.SIZE);
            n = w.transferFrom(c.readFromHost, Math.min(Math.min(credit, available), Math.min(room, MAX_PAYLOAD)));
        }
        catch (final ChainAccessException e)
        {
            throw new IllegalStateException("checked room was not there", e);
        }
        final int op;
        if (n > 0)
        {
            op = VsockHeader.OP_RW;
            c.sent(n);
            bytesToGuest += n;
        }
        else
        {
            // The buffer is taken; it carries our credit instead of data.
            op = VsockHeader.OP_CREDIT_UPDATE;
            if (n < 0 && n != -Errno.EAGAIN)
            {
                c.hostEof = true;
            }
            n = 0;
        }
        out.set(c.remoteCid, c.localPort, guestCid, c.peerPort, op, (int)n, 0, c.bufAlloc(), c.fwdCnt());
        c.reported();
        w.rewind();
        try
        {
            w.write(out.bytes(), 0, VsockHeader.SIZE);
        }
        catch (final ChainAccessException e)
        {
            throw new IllegalStateException("checked room was not there", e);
        }
        queue.complete(chain, VsockHeader.SIZE + n);
        return true;
    }

    private void sendHeader(final DeviceQueue queue, final DescriptorChain chain)
    {
        if (chain.writableBytes() < VsockHeader.SIZE)
        {
            bad(chain, "rx buffer of " + chain.writableBytes() + " bytes, shorter than the 44-byte header; "
                + VsockHeader.opName(out.op()) + " lost");
            queue.complete(chain, 0);
            return;
        }
        try
        {
            chain.writer().write(out.bytes(), 0, VsockHeader.SIZE);
        }
        catch (final ChainAccessException e)
        {
            throw new IllegalStateException("checked room was not there", e);
        }
        queue.complete(chain, VsockHeader.SIZE);
    }

    private static int op(final int bit)
    {
        return switch (bit)
        {
            case VsockConnection.OWE_RST -> VsockHeader.OP_RST;
            case VsockConnection.OWE_REQUEST -> VsockHeader.OP_REQUEST;
            case VsockConnection.OWE_RESPONSE -> VsockHeader.OP_RESPONSE;
            case VsockConnection.OWE_SHUTDOWN -> VsockHeader.OP_SHUTDOWN;
            case VsockConnection.OWE_CREDIT_UPDATE -> VsockHeader.OP_CREDIT_UPDATE;
            case VsockConnection.OWE_CREDIT_REQUEST -> VsockHeader.OP_CREDIT_REQUEST;
            default -> throw new IllegalStateException("no op for " + bit);
        };
    }

    private void sendEvent(final DeviceQueue queue)
    {
        if (!owedTransportReset)
        {
            return;
        }
        final DescriptorChain chain = queue.next();
        if (null == chain)
        {
            return;
        }
        if (chain.writableBytes() < 4)
        {
            bad(chain, "event buffer of " + chain.writableBytes() + " bytes, shorter than the 4-byte event");
            queue.complete(chain, 0);
            return;
        }
        try
        {
            chain.writer().writeInt(EVENT_TRANSPORT_RESET);
        }
        catch (final ChainAccessException e)
        {
            throw new IllegalStateException("checked room was not there", e);
        }
        queue.complete(chain, 4);
        owedTransportReset = false;
        transportResets++;
    }

    // ---------------------------------------------------------------- connection bookkeeping

    /**
     * A connection's socket is watched edge-triggered from open to close: readiness changes arrive once each, and
     * what is still pending is remembered as owed bits (host data waiting for credit or a buffer stays
     * {@link VsockConnection#OWE_RW}), so no epoll_ctl is needed per packet. {@code EPOLLOUT} is added only while
     * guest data waits in the connection's buffer ({@link #watchWritable}): a host reader that keeps up would
     * otherwise wake the worker with an edge for every read it makes.
     */
    private static final int SOCKET_EVENTS = LibC.EPOLLIN | LibC.EPOLLRDHUP | LibC.EPOLLET;

    private void owe(final VsockConnection c, final int bit)
    {
        c.owed |= bit;
        if (!c.queued)
        {
            c.queued = true;
            owing.addLast(c);
        }
        wake(RX);
    }

    /**
     * The host side is gone and all its data reached the guest: close our socket, tell the guest SHUTDOWN, and keep
     * the entry until the guest resets it.
     */
    private void hostGone(final VsockConnection c, final String why)
    {
        if (c.opening())
        {
            resetConnection(c, "host client " + why);
            return;
        }
        host.unwatch(c.socket);
        c.close();
        c.state = VsockConnection.HOST_CLOSED;
        c.owed &= ~VsockConnection.OWE_RW;
        owe(c, VsockConnection.OWE_SHUTDOWN);
        LOG.log(Level.INFO, name + ": host side " + why + ": " + c + "; SHUTDOWN to the guest");
    }

    /**
     * Closes the host socket at once and owes the guest an RST; the entry goes when the RST is sent.
     *
     * @param why logged (null: an orderly close both sides asked for).
     */
    private void resetConnection(final VsockConnection c, final String why)
    {
        if (c.state != VsockConnection.HOST_CLOSED)
        {
            host.unwatch(c.socket);
            c.close();
        }
        c.state = VsockConnection.HOST_CLOSED;
        c.owed = 0;
        owe(c, VsockConnection.OWE_RST);
        LOG.log(Level.INFO, name + ": " + c + (null == why ? " closed" : " reset: the other side " + why));
    }

    private void remove(final VsockConnection c, final String why)
    {
        if (c.state != VsockConnection.HOST_CLOSED)
        {
            host.unwatch(c.socket);
            c.close();
        }
        if (c.queued)
        {
            owing.remove(c);
            c.queued = false;
        }
        table.remove(c);
        LOG.log(Level.INFO, name + ": " + c + " " + why);
    }

    private void strayReset(final int op, final long remoteCid, final int hostPort, final int guestPort)
    {
        if (op == VsockHeader.OP_RST)
        {
            return;
        }
        if (strayCount == MAX_STRAY_RESETS)
        {
            if (LogThrottle.due(++droppedResets))
            {
                LOG.log(Level.WARNING, name + ": RST to guest port " + Integer.toUnsignedString(guestPort)
                    + " dropped: " + MAX_STRAY_RESETS + " are waiting for rx buffers (" + droppedResets
                    + " dropped so far)");
            }
            return;
        }
        strayResets[(strayHead + strayCount) % MAX_STRAY_RESETS] = VsockConnection.key(hostPort, guestPort);
        strayCids[(strayHead + strayCount) % MAX_STRAY_RESETS] = remoteCid;
        strayCount++;
        wake(RX);
    }

    private void wake(final int queue)
    {
        if (null != context)
        {
            context.wake(queue);
        }
    }

    private void bad(final DescriptorChain chain, final String what)
    {
        if (LogThrottle.due(++badPackets))
        {
            LOG.log(Level.WARNING, name + ": " + what + " (chain head " + chain.head() + "; " + badPackets
                + " bad so far)");
        }
    }

    // ---------------------------------------------------------------- observation, lifecycle

    /** Called by {@link Siblings#add}: guests of the same group may now be reached through {@code s}. */
    synchronized void joined(final Siblings s)
    {
        if (null != siblings)
        {
            throw new IllegalStateException(name + " (CID " + guestCid + ") already has siblings");
        }
        siblings = s;
    }

    /** @return connections to sibling VMs this guest opened that the sibling's guest accepted. */
    public synchronized long siblingConnections()
    {
        return siblingConnections;
    }

    /** @return the guest's CID. */
    public long guestCid()
    {
        return guestCid;
    }

    /** @return open connections (including those waiting for the guest's last RST). */
    public synchronized int connections()
    {
        return table.size();
    }

    public synchronized long bytesToGuest()
    {
        return bytesToGuest;
    }

    public synchronized long bytesFromGuest()
    {
        return bytesFromGuest;
    }

    /**
     * @return guest bytes that waited in a connection's buffer because the host socket did not take them at once (the
     *     rest went from guest memory to the socket with no copy).
     */
    public synchronized long bytesBufferedFromGuest()
    {
        return bytesBufferedFromGuest;
    }

    /** @return every connection's state and credit, one per line (diagnostics). */
    public synchronized String describeConnections()
    {
        final StringBuilder s = new StringBuilder();
        for (int i = 0; i < table.capacity(); i++)
        {
            final VsockConnection c = table.bySlot(i);
            if (null != c)
            {
                s.append(c.describe()).append('\n');
            }
        }
        return s.toString();
    }

    /** @return guest packets and buffers refused as malformed. */
    public synchronized long badPackets()
    {
        return badPackets;
    }

    /** @return TRANSPORT_RESET events delivered. */
    public synchronized long transportResets()
    {
        return transportResets;
    }

    /**
     * The driver reset the device or the front-end went away: every connection ends (host sockets closed; the guest's
     * side learns from TRANSPORT_RESET, owed from now on), and the host side is no longer watched until a queue
     * starts again. Host clients mid-request stay: the listener belongs to the VM, not to one connection.
     */
    @Override
    public void reset()
    {
        inbox.close();
        final FdWatch w;
        synchronized (this)
        {
            w = watch;
            watch = null;
        }
        if (null != w)
        {
            w.close();
        }
        synchronized (this)
        {
            // Every connection holds a slot of the table: the walk ends once the last one is closed (a reset with
            // none open, as at a driver's start, walks none of the 1,024 slots).
            for (int i = 0; i < table.capacity() && table.size() > 0; i++)
            {
                final VsockConnection c = table.bySlot(i);
                if (null != c)
                {
                    if (c.state != VsockConnection.HOST_CLOSED)
                    {
                        host.unwatch(c.socket);
                        c.close();
                    }
                    table.remove(c);
                }
            }
            owing.clear();
            strayCount = 0;
            owedTransportReset = true;
        }
    }

    /**
     * Ends every connection and closes the host side (process exit).
     */
    public void close()
    {
        reset();
        synchronized (this)
        {
            host.close();
        }
    }
}
