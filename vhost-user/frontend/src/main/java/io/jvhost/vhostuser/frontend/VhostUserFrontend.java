package io.jvhost.vhostuser.frontend;

import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.Payloads;
import io.jvhost.vhostuser.protocol.ProtocolException;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

import static io.jvhost.vhostuser.protocol.FrontendRequest.*;

/**
 * The front-end (VMM) end of one vhost-user connection: one method per request, each sent the way QEMU sends it
 * and each reply checked the way QEMU checks it (flags exactly {@code 0x5}, the same request id, the exact payload
 * size the request implies), with a receive timeout so a dead or stuck back-end fails the caller instead of hanging
 * it. Works with any back-end, not only ours.
 * <p>
 * When REPLY_ACK has been negotiated (see {@link #setProtocolFeatures}), requests that have no reply of their own are
 * sent with NEED_REPLY according to the {@link NeedReply} policy and a non-zero ack raises a
 * {@link FrontendException} of kind {@link FrontendException.Kind#REFUSED} naming the request and the code.
 * <p>
 * {@link #sendRaw}, {@link #sendRawBytes} and {@link #receiveReply} bypass all of that for hostile tests.
 * <p>
 * Thread-safe: one request/reply exchange at a time. Requests reuse one send and one receive buffer, so the
 * control path allocates nothing per request apart from the few methods documented as allocating.
 */
public final class VhostUserFrontend implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserFrontend.class.getName());

    /** Default time to wait for a reply. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(5);

    /** Payload room of the send and receive buffers: more than any request or reply needs. */
    private static final int BUFFER_PAYLOAD = MessageHeader.MAX_PAYLOAD;

    /**
     * Which requests without a reply of their own carry NEED_REPLY once REPLY_ACK is negotiated.
     */
    public enum NeedReply
    {
        /** Every one of them: each refusal is reported by the call that caused it (the default; best for tests). */
        ALWAYS,
        /**
         * The ones QEMU 10 acks: SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, SET_BACKEND_REQ_FD, SET_CONFIG,
         * SET_VRING_ENABLE.
         */
        LIKE_QEMU,
        /** None. */
        NEVER
    }

    private final UnixSocket socket;
    private final VhostUserConnection connection;
    private final Message out = new Message(BUFFER_PAYLOAD);
    private final Message in = new Message(BUFFER_PAYLOAD);
    private final int[] sendFds = new int[Payloads.MEMORY_TABLE_MAX_REGIONS * 4];
    private final ReentrantLock lock = new ReentrantLock();
    private final Reply reply = new Reply();
    private volatile long ackedProtocolFeatures;
    private volatile NeedReply needReply = NeedReply.ALWAYS;
    private volatile String brokenReason;
    private long replyTimeoutMillis;

    private VhostUserFrontend(final UnixSocket socket) throws NativeException
    {
        this.socket = socket;
        this.connection = new VhostUserConnection(socket, false);
        setReplyTimeout(DEFAULT_REPLY_TIMEOUT);
    }

    /**
     * Connects to a back-end listening at {@code path}, retrying while the socket does not exist yet or refuses
     * connections (a back-end that is still starting), until {@code deadline} has passed.
     */
    public static VhostUserFrontend connect(final Path path, final Duration deadline) throws IOException
    {
        final long end = System.nanoTime() + deadline.toNanos();
        long pause = 1;
        while (true)
        {
            try
            {
                return new VhostUserFrontend(UnixSocket.connect(path));
            }
            catch (final NativeException e)
            {
                final boolean retry = e.errno() == Errno.ENOENT || e.errno() == Errno.ECONNREFUSED
                    || e.errno() == Errno.EAGAIN;
                if (!retry || System.nanoTime() - end >= 0)
                {
                    throw new IOException("cannot connect to the vhost-user back-end at " + path + " within "
                        + deadline.toMillis() + " ms: " + e.getMessage(), e);
                }
            }
            try
            {
                Thread.sleep(pause);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while connecting to " + path, e);
            }
            pause = Math.min(pause * 2, 50);
        }
    }

    /**
     * Connects to {@code path}, retrying for up to 5 seconds.
     */
    public static VhostUserFrontend connect(final Path path) throws IOException
    {
        return connect(path, Duration.ofSeconds(5));
    }

    /**
     * Drives a back-end over an already connected socket (e.g. one end of {@link UnixSocket#pair()}); the front-end
     * owns it from now on.
     */
    public static VhostUserFrontend over(final UnixSocket connected) throws NativeException
    {
        return new VhostUserFrontend(connected);
    }

    /**
     * Bounds how long any reply (and any blocked send) may take. Default {@link #DEFAULT_REPLY_TIMEOUT}.
     */
    public void setReplyTimeout(final Duration timeout) throws NativeException
    {
        final long millis = Math.max(1, timeout.toMillis());
        lock.lock();
        try
        {
            socket.setReceiveTimeout(millis);
            socket.setSendTimeout(millis);
            replyTimeoutMillis = millis;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Chooses which requests carry NEED_REPLY once REPLY_ACK is negotiated. Default {@link NeedReply#ALWAYS}.
     */
    public void setNeedReply(final NeedReply policy)
    {
        this.needReply = policy;
    }

    /**
     * @return the protocol features last sent with {@link #setProtocolFeatures}.
     */
    public long ackedProtocolFeatures()
    {
        return ackedProtocolFeatures;
    }

    /**
     * @return true when REPLY_ACK was negotiated.
     */
    public boolean replyAck()
    {
        return ProtocolFeature.has(ackedProtocolFeatures, ProtocolFeature.REPLY_ACK);
    }

    /**
     * @return the socket (e.g. to watch it, or to shut it down from a test).
     */
    public UnixSocket socket()
    {
        return socket;
    }

    /**
     * @return why the connection can no longer be used (timeout, disconnect, framing error), or null.
     */
    public String brokenReason()
    {
        return brokenReason;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Feature negotiation and ownership

    /**
     * GET_FEATURES.
     */
    public long getFeatures() throws FrontendException
    {
        return getU64(GET_FEATURES);
    }

    /**
     * SET_FEATURES: the features the driver accepted (plus {@code 1 << 30} when protocol features are in use).
     */
    public void setFeatures(final long features) throws FrontendException
    {
        setU64(SET_FEATURES, features);
    }

    /**
     * GET_PROTOCOL_FEATURES (only valid when GET_FEATURES offered bit 30).
     */
    public long getProtocolFeatures() throws FrontendException
    {
        return getU64(GET_PROTOCOL_FEATURES);
    }

    /**
     * SET_PROTOCOL_FEATURES. Never acked (REPLY_ACK takes effect after it); remembers the value so later requests
     * follow what was negotiated.
     */
    public void setProtocolFeatures(final long features) throws FrontendException
    {
        lock.lock();
        try
        {
            checkUsable(SET_PROTOCOL_FEATURES);
            out.header(SET_PROTOCOL_FEATURES, MessageHeader.VERSION, Payloads.U64_SIZE).u64(0, features);
            transmit(SET_PROTOCOL_FEATURES, 0);
            ackedProtocolFeatures = features;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_OWNER.
     */
    public void setOwner() throws FrontendException
    {
        simple(SET_OWNER, 0, 0);
    }

    /**
     * RESET_OWNER (deprecated; some back-ends treat it as a device reset).
     */
    public void resetOwner() throws FrontendException
    {
        simple(RESET_OWNER, 0, 0);
    }

    /**
     * RESET_DEVICE (needs the RESET_DEVICE protocol feature).
     */
    public void resetDevice() throws FrontendException
    {
        simple(RESET_DEVICE, 0, 0);
    }

    /**
     * GET_QUEUE_NUM (needs MQ).
     */
    public long getQueueNum() throws FrontendException
    {
        return getU64(GET_QUEUE_NUM);
    }

    /**
     * GET_MAX_MEM_SLOTS (needs CONFIGURE_MEM_SLOTS).
     */
    public long getMaxMemSlots() throws FrontendException
    {
        return getU64(GET_MAX_MEM_SLOTS);
    }

    /**
     * A GET_FEATURES round trip used as a barrier, as QEMU does without REPLY_ACK: when it returns, the back-end has
     * handled every request sent before.
     */
    public void sync() throws FrontendException
    {
        getFeatures();
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Memory

    /**
     * SET_MEM_TABLE with every region of {@code ram} (at most 8), each with the memfd.
     */
    public void setMemTable(final GuestRam ram) throws FrontendException
    {
        if (ram.regionCount() > Payloads.MEMORY_TABLE_MAX_REGIONS)
        {
            throw new IllegalArgumentException("SET_MEM_TABLE carries at most " + Payloads.MEMORY_TABLE_MAX_REGIONS
                + " regions, RAM has " + ram.regionCount() + "; use ADD_MEM_REG");
        }
        lock.lock();
        try
        {
            final int n = ram.regionCount();
            for (int i = 0; i < n; i++)
            {
                sendFds[i] = ram.fd();
            }
            writeMemTable(ram.regions(), n);
            request(SET_MEM_TABLE, Payloads.MEMORY_TABLE_HEADER + n * Payloads.REGION_SIZE, n);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_MEM_TABLE with arbitrary regions and descriptors (no checks: for tests of hostile tables). The number of
     * descriptors may differ from the number of regions.
     */
    public void setMemTable(final List<GuestRam.Region> regions, final int[] fds) throws FrontendException
    {
        final int max = (BUFFER_PAYLOAD - Payloads.MEMORY_TABLE_HEADER) / Payloads.REGION_SIZE;
        if (regions.size() > max || fds.length > sendFds.length)
        {
            throw new IllegalArgumentException("too many regions or descriptors for one message: " + regions.size()
                + " regions, " + fds.length + " fds");
        }
        lock.lock();
        try
        {
            System.arraycopy(fds, 0, sendFds, 0, fds.length);
            writeMemTable(regions, regions.size());
            request(SET_MEM_TABLE, Payloads.MEMORY_TABLE_HEADER + regions.size() * Payloads.REGION_SIZE, fds.length);
        }
        finally
        {
            lock.unlock();
        }
    }

    private void writeMemTable(final List<GuestRam.Region> regions, final int n)
    {
        out.u32(Payloads.MEMORY_TABLE_NREGIONS, n).u32(Payloads.MEMORY_TABLE_NREGIONS + 4, 0);
        for (int i = 0; i < n; i++)
        {
            writeRegion(Payloads.MEMORY_TABLE_HEADER + i * Payloads.REGION_SIZE, regions.get(i));
        }
    }

    private void writeRegion(final int offset, final GuestRam.Region r)
    {
        out.u64(offset + Payloads.REGION_GPA, r.guestPhysAddr())
            .u64(offset + Payloads.REGION_MEMORY_SIZE, r.size())
            .u64(offset + Payloads.REGION_USER_ADDR, r.userAddr())
            .u64(offset + Payloads.REGION_MMAP_OFFSET, r.mmapOffset());
    }

    /**
     * ADD_MEM_REG for region {@code index} of {@code ram} (needs CONFIGURE_MEM_SLOTS).
     */
    public void addMemReg(final GuestRam ram, final int index) throws FrontendException
    {
        addMemReg(ram.region(index), ram.fd());
    }

    /**
     * ADD_MEM_REG with an arbitrary region and descriptor ({@code fd < 0}: none, a hostile message).
     */
    public void addMemReg(final GuestRam.Region region, final int fd) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u64(0, 0);
            writeRegion(Payloads.SINGLE_REGION_REGION, region);
            sendFds[0] = fd;
            request(ADD_MEM_REG, Payloads.SINGLE_REGION_SIZE, fd < 0 ? 0 : 1);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * REM_MEM_REG for region {@code index} of {@code ram}.
     */
    public void remMemReg(final GuestRam ram, final int index) throws FrontendException
    {
        remMemReg(ram.region(index));
    }

    /**
     * REM_MEM_REG (the back-end matches guest_phys_addr, size and userspace_addr); sent without a descriptor.
     */
    public void remMemReg(final GuestRam.Region region) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u64(0, 0);
            writeRegion(Payloads.SINGLE_REGION_REGION, region);
            request(REM_MEM_REG, Payloads.SINGLE_REGION_SIZE, 0);
        }
        finally
        {
            lock.unlock();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Rings

    /**
     * SET_VRING_NUM: the queue size.
     */
    public void setVringNum(final int index, final int num) throws FrontendException
    {
        vringState(SET_VRING_NUM, index, num);
    }

    /**
     * SET_VRING_BASE: the next avail index the back-end is to process.
     */
    public void setVringBase(final int index, final int base) throws FrontendException
    {
        vringState(SET_VRING_BASE, index, base);
    }

    /**
     * SET_VRING_ENABLE (only valid when protocol features are in use).
     */
    public void setVringEnable(final int index, final boolean enable) throws FrontendException
    {
        vringState(SET_VRING_ENABLE, index, enable ? 1 : 0);
    }

    private void vringState(final int req, final int index, final int num) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u32(Payloads.VRING_STATE_INDEX, index).u32(Payloads.VRING_STATE_NUM, num);
            request(req, Payloads.VRING_STATE_SIZE, 0);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_VRING_ADDR with addresses in this process's address space (userspace addresses, like QEMU sends; see
     * {@link GuestRam#userAddrOf}). Note the payload order: desc, used, avail.
     */
    public void setVringAddr(final int index, final long descUserAddr, final long usedUserAddr,
        final long availUserAddr) throws FrontendException
    {
        setVringAddr(index, 0, descUserAddr, usedUserAddr, availUserAddr, 0);
    }

    /**
     * SET_VRING_ADDR with explicit flags (bit 0: log) and log address.
     */
    public void setVringAddr(final int index, final int flags, final long descUserAddr, final long usedUserAddr,
        final long availUserAddr, final long logGuestAddr) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u32(Payloads.VRING_ADDR_INDEX, index).u32(Payloads.VRING_ADDR_FLAGS, flags)
                .u64(Payloads.VRING_ADDR_DESC, descUserAddr).u64(Payloads.VRING_ADDR_USED, usedUserAddr)
                .u64(Payloads.VRING_ADDR_AVAIL, availUserAddr).u64(Payloads.VRING_ADDR_LOG, logGuestAddr);
            request(SET_VRING_ADDR, Payloads.VRING_ADDR_SIZE, 0);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * GET_VRING_BASE: stops the ring.
     *
     * @return the next avail index the back-end would have processed.
     */
    public int getVringBase(final int index) throws FrontendException
    {
        lock.lock();
        try
        {
            checkUsable(GET_VRING_BASE);
            out.header(GET_VRING_BASE, MessageHeader.VERSION, Payloads.VRING_STATE_SIZE)
                .u32(Payloads.VRING_STATE_INDEX, index).u32(Payloads.VRING_STATE_NUM, 0);
            transmit(GET_VRING_BASE, 0);
            receiveFor(GET_VRING_BASE);
            if (in.size() != Payloads.VRING_STATE_SIZE)
            {
                throw FrontendException.badReply(GET_VRING_BASE, "size " + in.size() + ", expected "
                    + Payloads.VRING_STATE_SIZE);
            }
            if (in.u32(Payloads.VRING_STATE_INDEX) != index)
            {
                throw FrontendException.badReply(GET_VRING_BASE, "reply is for queue "
                    + Integer.toUnsignedString(in.u32(Payloads.VRING_STATE_INDEX)) + ", asked for " + index);
            }
            return in.u32(Payloads.VRING_STATE_NUM);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_VRING_KICK with {@code kick}'s descriptor, or the NOFD flag when null.
     */
    public void setVringKick(final int index, final EventFd kick) throws FrontendException
    {
        vringFile(SET_VRING_KICK, index, null == kick ? -1 : kick.fd());
    }

    /**
     * SET_VRING_CALL with {@code call}'s descriptor, or the NOFD flag when null.
     */
    public void setVringCall(final int index, final EventFd call) throws FrontendException
    {
        vringFile(SET_VRING_CALL, index, null == call ? -1 : call.fd());
    }

    /**
     * SET_VRING_ERR with {@code err}'s descriptor, or the NOFD flag when null.
     */
    public void setVringErr(final int index, final EventFd err) throws FrontendException
    {
        vringFile(SET_VRING_ERR, index, null == err ? -1 : err.fd());
    }

    /**
     * A vring file message (SET_VRING_KICK/CALL/ERR) with a raw descriptor; {@code fd < 0} sends NOFD.
     */
    public void vringFile(final int req, final int index, final int fd) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u64(0, (index & Payloads.VRING_FILE_INDEX_MASK) | (fd < 0 ? Payloads.VRING_FILE_NOFD : 0));
            sendFds[0] = fd;
            request(req, Payloads.VRING_FILE_SIZE, fd < 0 ? 0 : 1);
        }
        finally
        {
            lock.unlock();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Configuration space, status, back-end channel

    /**
     * GET_CONFIG of {@code dst.byteSize()} bytes from {@code offset} into {@code dst} (flags 0, as QEMU sends).
     */
    public void getConfig(final int offset, final MemorySegment dst) throws FrontendException
    {
        getConfig(offset, (int)dst.byteSize(), 0, dst);
    }

    /**
     * GET_CONFIG (allocates the result).
     */
    public byte[] getConfig(final int offset, final int size) throws FrontendException
    {
        final byte[] bytes = new byte[size];
        getConfig(offset, size, 0, MemorySegment.ofArray(bytes));
        return bytes;
    }

    /**
     * GET_CONFIG: the reply must be {@code 12 + size} bytes echoing offset and size.
     */
    public void getConfig(final int offset, final int size, final int flags, final MemorySegment dst)
        throws FrontendException
    {
        if (size < 0 || size > BUFFER_PAYLOAD - Payloads.CONFIG_HEADER || dst.byteSize() < size)
        {
            throw new IllegalArgumentException("bad config size " + size);
        }
        lock.lock();
        try
        {
            checkUsable(GET_CONFIG);
            out.header(GET_CONFIG, MessageHeader.VERSION, Payloads.CONFIG_HEADER + size)
                .u32(Payloads.CONFIG_OFFSET, offset).u32(Payloads.CONFIG_SIZE, size).u32(Payloads.CONFIG_FLAGS, flags)
                .clearPayload(Payloads.CONFIG_DATA, size);
            transmit(GET_CONFIG, 0);
            receiveFor(GET_CONFIG);
            final int got = in.size();
            if (got == Payloads.U64_SIZE && size + Payloads.CONFIG_HEADER != Payloads.U64_SIZE)
            {
                throw FrontendException.refused(GET_CONFIG, in.u64(0));
            }
            if (got == 0)
            {
                throw FrontendException.refused(GET_CONFIG, -1);
            }
            if (got != Payloads.CONFIG_HEADER + size)
            {
                throw FrontendException.badReply(GET_CONFIG, "size " + got + ", expected " + (12 + size));
            }
            if (in.u32(Payloads.CONFIG_OFFSET) != offset || in.u32(Payloads.CONFIG_SIZE) != size)
            {
                throw FrontendException.badReply(GET_CONFIG, "reply describes offset "
                    + Integer.toUnsignedString(in.u32(Payloads.CONFIG_OFFSET)) + " size "
                    + Integer.toUnsignedString(in.u32(Payloads.CONFIG_SIZE)) + ", asked for offset " + offset
                    + " size " + size);
            }
            MemorySegment.copy(in.buffer(), MessageHeader.LENGTH + Payloads.CONFIG_DATA, dst, 0, size);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_CONFIG of {@code data} at {@code offset} (flags 0: a front-end write).
     */
    public void setConfig(final int offset, final byte[] data) throws FrontendException
    {
        setConfig(offset, MemorySegment.ofArray(data), 0);
    }

    /**
     * SET_CONFIG.
     */
    public void setConfig(final int offset, final MemorySegment data, final int flags) throws FrontendException
    {
        final long size = data.byteSize();
        if (size > BUFFER_PAYLOAD - Payloads.CONFIG_HEADER)
        {
            throw new IllegalArgumentException("config data too large: " + size);
        }
        lock.lock();
        try
        {
            out.u32(Payloads.CONFIG_OFFSET, offset).u32(Payloads.CONFIG_SIZE, (int)size)
                .u32(Payloads.CONFIG_FLAGS, flags);
            MemorySegment.copy(data, 0, out.buffer(), MessageHeader.LENGTH + Payloads.CONFIG_DATA, size);
            request(SET_CONFIG, Payloads.CONFIG_HEADER + (int)size, 0);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * SET_STATUS (needs the STATUS protocol feature).
     */
    public void setStatus(final int status) throws FrontendException
    {
        setU64(SET_STATUS, status & 0xFFL);
    }

    /**
     * GET_STATUS (needs the STATUS protocol feature).
     */
    public int getStatus() throws FrontendException
    {
        return (int)getU64(GET_STATUS);
    }

    /**
     * SET_BACKEND_REQ_FD with {@code fd}, one end of a socket pair the caller keeps the other end of (see
     * {@link BackendChannel}); {@code fd < 0} sends none (a hostile message).
     */
    public void setBackendReqFd(final int fd) throws FrontendException
    {
        lock.lock();
        try
        {
            sendFds[0] = fd;
            request(SET_BACKEND_REQ_FD, 0, fd < 0 ? 0 : 1);
        }
        finally
        {
            lock.unlock();
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Generic exchange

    private long getU64(final int req) throws FrontendException
    {
        lock.lock();
        try
        {
            checkUsable(req);
            out.header(req, MessageHeader.VERSION, 0);
            transmit(req, 0);
            return receiveU64(req);
        }
        finally
        {
            lock.unlock();
        }
    }

    private void setU64(final int req, final long value) throws FrontendException
    {
        lock.lock();
        try
        {
            out.u64(0, value);
            request(req, Payloads.U64_SIZE, 0);
        }
        finally
        {
            lock.unlock();
        }
    }

    private void simple(final int req, final int size, final int fdCount) throws FrontendException
    {
        lock.lock();
        try
        {
            request(req, size, fdCount);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Sends a request without a reply of its own whose payload is already in {@code out}, with NEED_REPLY when the
     * policy asks for it, and checks the ack. Caller holds the lock.
     */
    private void request(final int req, final int size, final int fdCount) throws FrontendException
    {
        checkUsable(req);
        final boolean ack = wantsAck(req);
        // header() does not touch the payload that is already in place.
        out.header(req, MessageHeader.VERSION | (ack ? MessageHeader.NEED_REPLY : 0), size);
        transmit(req, fdCount);
        if (ack)
        {
            final long code = receiveU64(req);
            if (code != 0)
            {
                throw FrontendException.refused(req, code);
            }
        }
    }

    private boolean wantsAck(final int req)
    {
        if (!replyAck())
        {
            return false;
        }
        return switch (needReply)
        {
            case ALWAYS -> true;
            case NEVER -> false;
            case LIKE_QEMU -> switch (req)
            {
                case SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, SET_BACKEND_REQ_FD, SET_CONFIG, SET_VRING_ENABLE -> true;
                default -> false;
            };
        };
    }

    private void transmit(final int req, final int fdCount) throws FrontendException
    {
        if (LOG.isLoggable(Level.DEBUG))
        {
            LOG.log(Level.DEBUG, "-> " + out.describe() + (fdCount > 0 ? " fds=" + fdCount : ""));
        }
        try
        {
            connection.send(out, sendFds, fdCount);
        }
        catch (final NativeException e)
        {
            throw broken(req, e.errno() == Errno.EAGAIN ? FrontendException.Kind.TIMEOUT
                : FrontendException.Kind.DISCONNECTED, "send failed: " + e.getMessage(), e);
        }
    }

    private long receiveU64(final int req) throws FrontendException
    {
        receiveFor(req);
        if (in.size() != Payloads.U64_SIZE)
        {
            throw FrontendException.badReply(req, "size " + in.size() + ", expected " + Payloads.U64_SIZE);
        }
        return in.u64(0);
    }

    /**
     * Receives the reply to {@code req} and checks the header: flags exactly version 1 | REPLY, the same request id,
     * no descriptors.
     */
    private void receiveFor(final int req) throws FrontendException
    {
        receiveInto(req);
        final int fdCount = in.fds().count();
        in.fds().closeRemaining();
        if (in.flags() != MessageHeader.REPLY_FLAGS)
        {
            throw FrontendException.badReply(req, "flags 0x" + Integer.toHexString(in.flags()) + ", expected 0x"
                + Integer.toHexString(MessageHeader.REPLY_FLAGS) + " (" + in.describe() + ")");
        }
        if (in.request() != req)
        {
            throw FrontendException.badReply(req, "reply is for " + FrontendRequest.name(in.request()));
        }
        if (fdCount > 0)
        {
            throw FrontendException.badReply(req, "unexpected " + fdCount + " descriptor(s) with the reply");
        }
    }

    private void receiveInto(final int req) throws FrontendException
    {
        in.fds().closeRemaining();
        try
        {
            if (!connection.receive(in))
            {
                throw broken(req, FrontendException.Kind.DISCONNECTED, "back-end closed the connection", null);
            }
            if (LOG.isLoggable(Level.DEBUG))
            {
                LOG.log(Level.DEBUG, "<- " + in.describe());
            }
        }
        catch (final NativeException e)
        {
            in.fds().closeRemaining();
            if (e.errno() == Errno.EAGAIN)
            {
                throw broken(req, FrontendException.Kind.TIMEOUT, "no reply within " + replyTimeoutMillis + " ms", e);
            }
            throw broken(req, FrontendException.Kind.DISCONNECTED, "receive failed: " + e.getMessage(), e);
        }
        catch (final ProtocolException e)
        {
            in.fds().closeRemaining();
            throw broken(req, FrontendException.Kind.BAD_REPLY, e.getMessage(), e);
        }
        catch (final IOException e)
        {
            in.fds().closeRemaining();
            throw broken(req, FrontendException.Kind.DISCONNECTED, e.getMessage(), e);
        }
    }

    private FrontendException broken(final int req, final FrontendException.Kind kind, final String message,
        final Throwable cause)
    {
        brokenReason = FrontendRequest.name(req) + ": " + message;
        return new FrontendException(kind, req, 0, message, cause);
    }

    private void checkUsable(final int req) throws FrontendException
    {
        final String reason = brokenReason;
        if (null != reason)
        {
            throw new FrontendException(FrontendException.Kind.DISCONNECTED, req, 0,
                "connection unusable after an earlier failure (" + reason + ")", null);
        }
        if (socket.isClosed())
        {
            throw new FrontendException(FrontendException.Kind.DISCONNECTED, req, 0, "front-end closed", null);
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Raw access for hostile tests

    /**
     * Sends one message exactly as given: a header {@code request, flags, size = payload.byteSize()}, the payload,
     * and {@code fds} (any number, even more than a vhost-user message may carry). No checks, no reply is read.
     */
    public void sendRaw(final int request, final int flags, final MemorySegment payload, final int[] fds)
        throws FrontendException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final long size = null == payload ? 0 : payload.byteSize();
            final MemorySegment bytes = arena.allocate(MessageHeader.LENGTH + size, 8);
            bytes.set(ValueLayout.JAVA_INT_UNALIGNED, MessageHeader.REQUEST_OFFSET, request);
            bytes.set(ValueLayout.JAVA_INT_UNALIGNED, MessageHeader.FLAGS_OFFSET, flags);
            bytes.set(ValueLayout.JAVA_INT_UNALIGNED, MessageHeader.SIZE_OFFSET, (int)size);
            if (size > 0)
            {
                MemorySegment.copy(payload, 0, bytes, MessageHeader.LENGTH, size);
            }
            sendRawBytes(bytes, fds);
        }
    }

    /**
     * Sends arbitrary bytes (e.g. a header that lies about its size) with {@code fds} attached to the first byte.
     */
    public void sendRawBytes(final MemorySegment bytes, final int[] fds) throws FrontendException
    {
        lock.lock();
        try
        {
            checkUsable(0);
            if (bytes.isNative())
            {
                RawSend.send(socket.fd(), bytes, null == fds ? new int[0] : fds);
            }
            else
            {
                try (Arena arena = Arena.ofConfined())
                {
                    final MemorySegment copy = arena.allocate(Math.max(1, bytes.byteSize()), 8)
                        .asSlice(0, bytes.byteSize());
                    copy.copyFrom(bytes);
                    RawSend.send(socket.fd(), copy, null == fds ? new int[0] : fds);
                }
            }
        }
        catch (final NativeException e)
        {
            throw broken(0, e.errno() == Errno.EAGAIN ? FrontendException.Kind.TIMEOUT
                : FrontendException.Kind.DISCONNECTED, "raw send failed: " + e.getMessage(), e);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Receives the next message whatever it is (no header checks beyond a payload that fits our buffer).
     *
     * @return the message (a view reused by the next call), or null when the back-end closed the connection.
     * @throws FrontendException of kind TIMEOUT when nothing came within the reply timeout.
     */
    public Reply receiveReply() throws FrontendException
    {
        lock.lock();
        try
        {
            in.fds().closeRemaining();
            try
            {
                if (!connection.receive(in))
                {
                    return null;
                }
                return reply;
            }
            catch (final NativeException e)
            {
                in.fds().closeRemaining();
                if (e.errno() == Errno.ECONNRESET)
                {
                    return null;
                }
                throw broken(0, e.errno() == Errno.EAGAIN ? FrontendException.Kind.TIMEOUT
                    : FrontendException.Kind.DISCONNECTED, "receive failed: " + e.getMessage(), e);
            }
            catch (final EOFException e)
            {
                in.fds().closeRemaining();
                return null;
            }
            catch (final IOException e)
            {
                in.fds().closeRemaining();
                throw broken(0, FrontendException.Kind.BAD_REPLY, e.getMessage(), e);
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Reads and discards whatever the back-end sends until it closes the connection.
     *
     * @return true if it closed within {@code timeout}, false if it was still connected then.
     */
    public boolean awaitDisconnect(final Duration timeout) throws FrontendException
    {
        final long end = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try
        {
            while (true)
            {
                final long left = end - System.nanoTime();
                if (left <= 0)
                {
                    return false;
                }
                try
                {
                    socket.setReceiveTimeout(Math.max(1, left / 1_000_000));
                    if (!connection.receive(in))
                    {
                        return true;
                    }
                }
                catch (final NativeException e)
                {
                    if (e.errno() == Errno.EAGAIN)
                    {
                        return false;
                    }
                    return true;
                }
                catch (final IOException e)
                {
                    return true;
                }
                finally
                {
                    in.fds().closeRemaining();
                }
            }
        }
        finally
        {
            try
            {
                socket.setReceiveTimeout(replyTimeoutMillis);
            }
            catch (final NativeException ignored)
            {
                // The socket is gone; nothing to restore.
            }
            lock.unlock();
        }
    }

    /**
     * Closes the connection (the back-end sees end of stream).
     */
    @Override
    public void close()
    {
        socket.close();
    }

    @Override
    public String toString()
    {
        return "VhostUserFrontend[" + socket + "]";
    }

    /**
     * A received message as {@link #receiveReply()} returns it: valid until the next receive.
     */
    public final class Reply
    {
        private Reply()
        {
        }

        public int request()
        {
            return in.request();
        }

        public int flags()
        {
            return in.flags();
        }

        public int size()
        {
            return in.size();
        }

        public int fdCount()
        {
            return in.fds().count();
        }

        public int u32(final int payloadOffset)
        {
            return in.u32(payloadOffset);
        }

        public long u64(final int payloadOffset)
        {
            return in.u64(payloadOffset);
        }

        /**
         * @return a copy of the payload.
         */
        public byte[] payload()
        {
            return in.payload(0, in.size()).toArray(ValueLayout.JAVA_BYTE);
        }

        /**
         * @return true when this is a well-formed ack for {@code request}: flags 0x5, size 8.
         */
        public boolean isAck(final int request)
        {
            return request() == request && flags() == MessageHeader.REPLY_FLAGS && size() == Payloads.U64_SIZE;
        }

        @Override
        public String toString()
        {
            return in.describe() + (size() == Payloads.U64_SIZE ? " u64=" + u64(0) : "");
        }
    }

    /**
     * sendmsg with any number of descriptors, for hostile tests.
     */
    private static final class RawSend
    {
        private static final long CMSG_HEADER = 16;

        static void send(final int socketFd, final MemorySegment data, final int[] fds) throws NativeException
        {
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment iov = arena.allocate(16, 8);
                final MemorySegment msg = arena.allocate(56, 8);
                final long controlLen = fds.length == 0 ? 0 : CMSG_HEADER + ((4L * fds.length + 7) & ~7L);
                final MemorySegment control = arena.allocate(Math.max(8, controlLen), 8);
                if (fds.length > 0)
                {
                    control.set(ValueLayout.JAVA_LONG, 0, CMSG_HEADER + 4L * fds.length);
                    control.set(ValueLayout.JAVA_INT, 8, LibC.SOL_SOCKET);
                    control.set(ValueLayout.JAVA_INT, 12, LibC.SCM_RIGHTS);
                    for (int i = 0; i < fds.length; i++)
                    {
                        control.set(ValueLayout.JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
                    }
                }
                long sent = 0;
                final long length = data.byteSize();
                boolean first = true;
                while (first || sent < length)
                {
                    iov.set(ValueLayout.JAVA_LONG, 0, data.address() + sent);
                    iov.set(ValueLayout.JAVA_LONG, 8, length - sent);
                    msg.fill((byte)0);
                    msg.set(ValueLayout.JAVA_LONG, 16, iov.address());
                    msg.set(ValueLayout.JAVA_LONG, 24, 1L);
                    if (first && controlLen > 0)
                    {
                        msg.set(ValueLayout.JAVA_LONG, 32, control.address());
                        msg.set(ValueLayout.JAVA_LONG, 40, controlLen);
                    }
                    final long n = LibC.sendmsgRaw(socketFd, msg, LibC.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        if (-n == Errno.EINTR)
                        {
                            continue;
                        }
                        throw new NativeException("sendmsg", (int)-n, "fd=" + socketFd + ", raw message of "
                            + length + " bytes with " + fds.length + " fds");
                    }
                    sent += n;
                    first = false;
                    if (length == 0)
                    {
                        break;
                    }
                }
            }
        }
    }
}
