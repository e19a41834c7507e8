package io.jvhost.vhostuser.backend;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryAtomic;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.memory.XenMmap;
import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.FdList;
import io.jvhost.os.MappedMemory;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.PeerEventFd;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.Payloads;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.vhostuser.protocol.VhostUserConnection;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.vhostuser.protocol.FrontendRequest.*;

/**
 * The back-end side of one vhost-user connection: the protocol state machine between a front-end (QEMU, or our
 * own front-end) and a {@link VirtioDevice}.
 * <p>
 * One thread (the caller of {@link #serve}) reads requests and answers them; worker threads serve the rings. Every
 * request is validated; a bad one is refused with a failure reply when a reply is due, logged on one line, and the
 * connection goes on. Descriptors that arrive with a message and are not kept are closed after it is handled.
 * Replies carry exactly the flags QEMU accepts (version 1 | REPLY).
 */
public final class VhostUserBackend implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserBackend.class.getName());

    /** Memory slots offered with CONFIGURE_MEM_SLOTS (libvhost-user's VHOST_USER_MAX_RAM_SLOTS). */
    public static final int MAX_MEM_SLOTS = 509;

    private final String name;
    private final VirtioDevice device;
    private final VhostUserExtension extension;
    private final long offeredFeatures;
    private final long offeredProtocolFeatures;
    private final GuestMemoryAtomic memory = new GuestMemoryAtomic();
    /**
     * The device implements {@link VirtioDevice#queueStopping}: only then does GET_VRING_BASE wait for the ring's
     * worker (a device that holds no chain keeps answering it at once, even while its worker is busy in a callback).
     */
    private final boolean givesChainsBack;
    /** The longest GET_VRING_BASE waits for the device to give its chains back (a disk transfer, a GPU fence). */
    private static final long DRAIN_TIMEOUT_NANOS = 60_000_000_000L;
    private final Vring[] vrings;
    private final Worker[] workers;
    private final Message request = new Message(MessageHeader.MAX_PAYLOAD);
    private final Message reply = new Message(MessageHeader.MAX_PAYLOAD);
    /** How Xen regions are mapped: the real privcmd/gntdev calls, or a test's fake. */
    private final XenSyscalls xen;
    private long ackedFeatures;
    private long ackedProtocolFeatures;
    /** The memory message in hand has Xen's region entries ({@link #xenEntries(boolean)}). */
    private boolean xenEntries;
    /** The line about XEN_MMAP acked with plain entries was logged (once a back-end). */
    private boolean plainEntriesNoted;
    private boolean featuresSet;
    private int status;
    /** A ring started since the last reset (protocol thread): see {@link #resetIfDriverProbesAgain}. */
    private boolean ranSinceReset;
    private volatile BackendRequestChannel backendChannel;
    private boolean closed;
    private final Object failureLock = new Object();
    /** The connection {@link #serve} serves, so a failing worker can end it; guarded by failureLock. */
    private VhostUserConnection serving;
    /** Why the connection must end, or null; guarded by failureLock. */
    private IOException failure;

    /**
     * @param name   for logs, e.g. {@code rng0}.
     * @param device the device served; it is reset when this connection ends.
     */
    public VhostUserBackend(final String name, final VirtioDevice device) throws NativeException
    {
        this(name, device, null);
    }

    /**
     * @param extension handles the device type's own requests on this connection, or null.
     */
    public VhostUserBackend(final String name, final VirtioDevice device, final VhostUserExtension extension)
        throws NativeException
    {
        this(name, device, extension, XenSyscalls.LINUX);
    }

    /**
     * @param xen the calls Xen regions (VHOST_USER_PROTOCOL_F_XEN_MMAP) are mapped through: {@link XenSyscalls#LINUX},
     *            or a test's fake.
     */
    public VhostUserBackend(final String name, final VirtioDevice device, final VhostUserExtension extension,
        final XenSyscalls xen) throws NativeException
    {
        this.name = name;
        this.xen = xen;
        this.device = device;
        this.givesChainsBack = implementsQueueStopping(device);
        this.extension = extension;
        this.offeredFeatures = device.features() | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES)
            | VirtioFeatures.bit(VirtioFeatures.VERSION_1);
        long protocol = ProtocolFeature.bit(ProtocolFeature.MQ) | ProtocolFeature.bit(ProtocolFeature.REPLY_ACK)
            | ProtocolFeature.bit(ProtocolFeature.CONFIGURE_MEM_SLOTS)
            | ProtocolFeature.bit(ProtocolFeature.RESET_DEVICE) | ProtocolFeature.bit(ProtocolFeature.BACKEND_REQ)
            | ProtocolFeature.bit(ProtocolFeature.STATUS) | ProtocolFeature.bit(ProtocolFeature.XEN_MMAP);
        if (device.configSize() > 0)
        {
            protocol |= ProtocolFeature.bit(ProtocolFeature.CONFIG);
        }
        if (null != extension)
        {
            protocol |= extension.protocolFeatures();
        }
        this.offeredProtocolFeatures = protocol;

        vrings = new Vring[device.queueCount()];
        int workerCount = 0;
        for (int q = 0; q < vrings.length; q++)
        {
            vrings[q] = new Vring(q, name, device.maxQueueSize());
            workerCount = Math.max(workerCount, device.queueWorker(q) + 1);
        }
        workers = new Worker[workerCount];
        try
        {
            for (int w = 0; w < workerCount; w++)
            {
                workers[w] = new Worker(name + "-worker" + w, w, device, memory, this::fail);
            }
        }
        catch (final NativeException e)
        {
            for (final Worker w : workers)
            {
                if (null != w)
                {
                    w.close();
                }
            }
            throw e;
        }
        for (int q = 0; q < vrings.length; q++)
        {
            workers[device.queueWorker(q)].addVring(vrings[q]);
        }
        for (final Worker w : workers)
        {
            w.start();
        }
        device.attach(new DeviceContext()
        {
            @Override
            public void wake(final int queue)
            {
                VhostUserBackend.this.wake(queue);
            }

            @Override
            public FdWatch watch(final int queue, final int fd, final Runnable onReadable)
            {
                return VhostUserBackend.this.watch(queue, fd, onReadable);
            }

            @Override
            public boolean notifyConfigChanged()
            {
                return VhostUserBackend.this.notifyConfigChanged();
            }
        });
    }

    /**
     * {@link io.jvhost.device.DeviceContext#wake}: any thread.
     */
    private void wake(final int queue)
    {
        if (queue >= 0 && queue < vrings.length)
        {
            workerOf(vrings[queue]).poke(vrings[queue]);
        }
    }

    /**
     * {@link io.jvhost.device.DeviceContext#watch}: any thread.
     */
    private FdWatch watch(final int queue, final int fd, final Runnable onReadable)
    {
        if (queue < 0 || queue >= vrings.length)
        {
            throw new IllegalArgumentException("no queue " + queue + " (the device has " + vrings.length + ")");
        }
        try
        {
            return workerOf(vrings[queue]).watch(vrings[queue], fd, onReadable);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, name + ": cannot watch fd " + fd + " on queue " + queue + "'s worker: "
                + e.getMessage());
            return null;
        }
    }

    /**
     * {@link io.jvhost.device.DeviceContext#notifyConfigChanged}: any thread; BACKEND_CONFIG_CHANGE_MSG on the
     * back-end channel, sent without waiting.
     */
    private boolean notifyConfigChanged()
    {
        final BackendRequestChannel channel = backendChannel;
        if (null == channel)
        {
            LOG.log(Level.INFO, name + ": config change not sent: the front-end gave no back-end channel"
                + " (SET_BACKEND_REQ_FD)");
            return false;
        }
        return channel.configChanged();
    }

    /**
     * @return the back-end channel the front-end gave (SET_BACKEND_REQ_FD), or null; for tests.
     */
    BackendRequestChannel backendChannel()
    {
        return backendChannel;
    }

    /**
     * @return the virtio features offered in GET_FEATURES.
     */
    public long offeredFeatures()
    {
        return offeredFeatures;
    }

    /**
     * @return the protocol features offered in GET_PROTOCOL_FEATURES.
     */
    public long offeredProtocolFeatures()
    {
        return offeredProtocolFeatures;
    }

    /**
     * Serves requests until the front-end disconnects, then stops the rings and resets the device.
     * <p>
     * The connection also ends when a worker cannot go on, or when handling a request throws an {@link Error}: a
     * fault in guest memory (the front-end shrank the file under our mapping; binding a ring reads its used index) or
     * worse. That reason is then what this method throws, for the caller's one log line.
     *
     * @throws IOException when the connection broke in a way that is not a clean disconnect (logged by callers).
     */
    public void serve(final VhostUserConnection connection) throws IOException
    {
        synchronized (failureLock)
        {
            serving = connection;
        }
        try
        {
            receiveAndHandle(connection);
        }
        catch (final IOException e)
        {
            // A failed worker shut the socket down: its reason ends the connection, not the socket's error.
            final IOException failed = failure();
            throw null != failed ? failed : e;
        }
        catch (final Error e)
        {
            fail(FrontendRequest.name(request.request())
                + (MappedMemory.isFault(e) ? " faulted on guest memory: " : " failed: ") + ThreadTop.describe(e), e);
            throw failure();
        }
        finally
        {
            synchronized (failureLock)
            {
                serving = null;
            }
            stopAll();
        }
        final IOException failed = failure();
        if (null != failed)
        {
            throw failed;
        }
    }

    private void receiveAndHandle(final VhostUserConnection connection) throws IOException
    {
        while (true)
        {
            final boolean got;
            try
            {
                got = connection.receive(request);
            }
            catch (final IOException e)
            {
                request.fds().closeRemaining();
                throw e;
            }
            if (!got)
            {
                return;
            }
            try
            {
                handle(connection);
            }
            finally
            {
                request.fds().closeRemaining();
            }
            // A front-end that acted on a config change has just read the config: its answer is there by now.
            final BackendRequestChannel channel = backendChannel;
            if (null != channel)
            {
                channel.drainReplies();
            }
        }
    }

    /**
     * Ends the connection for {@code why} (any thread; the first reason wins): {@link #serve} throws it.
     */
    private void fail(final String why, final Throwable cause)
    {
        synchronized (failureLock)
        {
            if (null != failure)
            {
                return;
            }
            failure = new IOException(why, cause);
            if (null != serving)
            {
                serving.shutdown();
            }
            else
            {
                // The connection is over already: nobody will throw the reason, so it is told here.
                LOG.log(MappedMemory.isFault(cause) ? Level.WARNING : Level.ERROR, name + ": " + why);
            }
        }
    }

    private IOException failure()
    {
        synchronized (failureLock)
        {
            return failure;
        }
    }

    private void handle(final VhostUserConnection connection) throws NativeException
    {
        final int req = request.request();
        if (LOG.isLoggable(Level.DEBUG))
        {
            LOG.log(Level.DEBUG, name + ": " + request.describe());
        }
        boolean ok = true;
        boolean replied = false;
        try
        {
            if (request.fds().dropped() > 0)
            {
                throw new RequestException("descriptors beyond " + FdList.MAX_FDS + " or truncated were dropped");
            }
            replied = dispatch(connection, req);
        }
        catch (final RequestException | GuestMemoryException e)
        {
            ok = false;
            LOG.log(Level.WARNING, name + ": " + FrontendRequest.name(req) + " refused: " + e.getMessage());
        }
        catch (final IOException | IllegalArgumentException e)
        {
            ok = false;
            LOG.log(Level.WARNING, name + ": " + FrontendRequest.name(req) + " failed: " + e.getMessage());
        }
        catch (final RuntimeException e)
        {
            ok = false;
            LOG.log(Level.ERROR, name + ": " + FrontendRequest.name(req) + " failed unexpectedly: " + e, e);
        }
        if (replied)
        {
            return;
        }
        if (FrontendRequest.hasReply(req))
        {
            // A request that always has a reply must get one even when it failed: a u64 error code.
            reply.header(req, MessageHeader.REPLY_FLAGS, Payloads.U64_SIZE).u64(0, ok ? 0 : 1);
            connection.send(reply);
        }
        else if (request.needsReply())
        {
            reply.header(req, MessageHeader.REPLY_FLAGS, Payloads.U64_SIZE).u64(0, ok ? 0 : 1);
            connection.send(reply);
        }
    }

    /**
     * @return true when the handler already sent the reply itself.
     */
    private boolean dispatch(final VhostUserConnection connection, final int req)
        throws RequestException, GuestMemoryException, IOException
    {
        if (null != extension && extension.handle(request))
        {
            return false;
        }
        switch (req)
        {
            case GET_FEATURES -> replyU64(connection, offeredFeatures);
            case SET_FEATURES -> setFeatures(requireU64());
            case SET_OWNER ->
            {
            }
            case RESET_OWNER, RESET_DEVICE -> resetDevice(FrontendRequest.name(req));
            case GET_PROTOCOL_FEATURES -> replyU64(connection, offeredProtocolFeatures);
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(requireU64());
            case GET_QUEUE_NUM -> replyU64(connection, vrings.length);
            case GET_MAX_MEM_SLOTS -> replyU64(connection, MAX_MEM_SLOTS);
            case SET_MEM_TABLE -> setMemTable();
            case ADD_MEM_REG -> addMemRegion();
            case REM_MEM_REG -> removeMemRegion();
            case SET_VRING_NUM -> setVringNum();
            case SET_VRING_ADDR -> setVringAddr();
            case SET_VRING_BASE -> setVringBase();
            case GET_VRING_BASE ->
            {
                return getVringBase(connection);
            }
            case SET_VRING_KICK -> setVringKick();
            case SET_VRING_CALL -> setVringCall();
            case SET_VRING_ERR -> setVringErr();
            case SET_VRING_ENABLE -> setVringEnable();
            case GET_CONFIG ->
            {
                return getConfig(connection);
            }
            case SET_CONFIG -> setConfig();
            case SET_STATUS -> setStatus((int)requireU64());
            case GET_STATUS -> replyU64(connection, status);
            case SET_BACKEND_REQ_FD -> setBackendReqFd();
            default -> throw new RequestException("request not supported by this back-end: " + request.describe());
        }
        return FrontendRequest.hasReply(req);
    }

    private void replyU64(final VhostUserConnection connection, final long value) throws NativeException
    {
        reply.header(request.request(), MessageHeader.REPLY_FLAGS, Payloads.U64_SIZE).u64(0, value);
        connection.send(reply);
    }

    private void requireSize(final int expected) throws RequestException
    {
        if (request.size() < expected)
        {
            throw new RequestException("payload too short: size=" + request.size() + ", expected " + expected);
        }
    }

    private long requireU64() throws RequestException
    {
        requireSize(Payloads.U64_SIZE);
        return request.u64(0);
    }

    private Vring vring(final long index) throws RequestException
    {
        if (index < 0 || index >= vrings.length)
        {
            throw new RequestException("no such queue: index=" + index + " (device has " + vrings.length + ")");
        }
        return vrings[(int)index];
    }

    private static boolean implementsQueueStopping(final VirtioDevice device)
    {
        try
        {
            return device.getClass().getMethod("queueStopping", DeviceQueue.class)
                .getDeclaringClass() != VirtioDevice.class;
        }
        catch (final NoSuchMethodException e)
        {
            return false;
        }
    }

    private Worker workerOf(final Vring v)
    {
        return workers[device.queueWorker(v.index)];
    }

    private boolean protocolFeaturesAcked()
    {
        return VirtioFeatures.has(ackedFeatures, VirtioFeatures.PROTOCOL_FEATURES);
    }

    private void setFeatures(final long features)
    {
        final long unknown = features & ~offeredFeatures;
        if (unknown != 0)
        {
            // QEMU passes on what the guest acked of QEMU's own offer (e.g. RING_RESET, bit 40): expected, not an
            // error, but worth a line.
            LOG.log(Level.INFO, name + ": SET_FEATURES has bits never offered, ignoring them: 0x"
                + Long.toHexString(unknown));
        }
        ackedFeatures = features & offeredFeatures;
        featuresSet = true;
        for (final Vring v : vrings)
        {
            v.lock.lock();
            try
            {
                v.queue.setFeatures(ackedFeatures);
                v.active.setAckedFeatures(ackedFeatures);
                if (!protocolFeaturesAcked() && v.started && !v.enabled)
                {
                    v.enabled = true;
                    workerOf(v).poke(v);
                }
            }
            finally
            {
                v.lock.unlock();
            }
        }
        device.featuresAcked(ackedFeatures);
        LOG.log(Level.INFO, name + ": features negotiated 0x" + Long.toHexString(ackedFeatures));
    }

    private void setProtocolFeatures(final long features)
    {
        final long unknown = features & ~offeredProtocolFeatures;
        if (unknown != 0)
        {
            LOG.log(Level.WARNING, name + ": SET_PROTOCOL_FEATURES has bits never offered, ignoring them: 0x"
                + Long.toHexString(unknown));
        }
        ackedProtocolFeatures = features & offeredProtocolFeatures;
    }

    private void setMemTable() throws RequestException, GuestMemoryException, NativeException
    {
        requireSize(Payloads.MEMORY_TABLE_HEADER);
        final int nregions = request.u32(Payloads.MEMORY_TABLE_NREGIONS);
        if (nregions < 1 || nregions > Payloads.MEMORY_TABLE_MAX_REGIONS)
        {
            throw new RequestException("nregions=" + Integer.toUnsignedString(nregions) + " outside 1.."
                + Payloads.MEMORY_TABLE_MAX_REGIONS);
        }
        xenEntries(request.size() >= Payloads.MEMORY_TABLE_HEADER + nregions * Payloads.REGION_XEN_SIZE);
        final int entry = regionSize();
        requireSize(Payloads.MEMORY_TABLE_HEADER + nregions * entry);
        if (request.fds().count() != nregions)
        {
            throw new RequestException("nregions=" + nregions + " but " + request.fds().count() + " descriptors");
        }
        final List<MemoryRegion> mapped = new ArrayList<>(nregions);
        try
        {
            checkOneDomain(nregions, entry, GuestMemory.EMPTY);
            for (int i = 0; i < nregions; i++)
            {
                mapped.add(mapRegion(Payloads.MEMORY_TABLE_HEADER + i * entry, request.fds().peek(i)));
            }
            replaceMemory(GuestMemory.of(mapped, Payloads.MEMORY_TABLE_MAX_REGIONS));
        }
        catch (final GuestMemoryException | NativeException | RuntimeException e)
        {
            mapped.forEach(MemoryRegion::release);
            throw e;
        }
        LOG.log(Level.INFO, name + ": memory table set, " + memory.peek());
    }

    private boolean xenMmap()
    {
        return ProtocolFeature.has(ackedProtocolFeatures, ProtocolFeature.XEN_MMAP);
    }

    /**
     * Whether the memory message in hand carries Xen's 40-byte region entries: XEN_MMAP negotiated <b>and</b> a
     * payload long enough for them. QEMU (10 included) acks every protocol feature below its maximum that a back-end
     * offers, XEN_MMAP too, yet always sends the plain 32-byte entries; its payload sizes say which layout came (the
     * region count is in the message, so the two sizes never coincide).
     */
    private void xenEntries(final boolean longEnough)
    {
        xenEntries = xenMmap() && longEnough;
        if (xenMmap() && !longEnough && !plainEntriesNoted)
        {
            plainEntriesNoted = true;
            LOG.log(Level.INFO, name + ": XEN_MMAP was acked but the front-end sends plain 32-byte region entries"
                + " (as QEMU does): taken as memfd regions");
        }
    }

    /**
     * @return the size of a region entry in the message in hand: 40 bytes in Xen's layout, else 32.
     */
    private int regionSize()
    {
        return xenEntries ? Payloads.REGION_XEN_SIZE : Payloads.REGION_SIZE;
    }

    /**
     * All Xen regions of a connection belong to one guest: before anything is mapped, the {@code count} entries of
     * the request (from {@link Payloads#MEMORY_TABLE_HEADER} or the single region) and the Xen regions of
     * {@code kept} must name one domain id.
     */
    private void checkOneDomain(final int count, final int entrySize, final GuestMemory kept)
        throws GuestMemoryException
    {
        if (!xenEntries)
        {
            return;
        }
        long domain = -1;
        String where = null;
        for (int i = 0; i < kept.regionCount(); i++)
        {
            if (kept.region(i).kind() != XenMmap.Kind.UNIX)
            {
                domain = kept.region(i).domid();
                where = "the mapped " + kept.region(i);
                break;
            }
        }
        final int first = count == 1 && entrySize == 0 ? Payloads.SINGLE_REGION_REGION : Payloads.MEMORY_TABLE_HEADER;
        for (int i = 0; i < count; i++)
        {
            final int at = first + i * entrySize;
            if (request.u32(at + Payloads.REGION_XEN_FLAGS) == XenMmap.UNIX)
            {
                continue;
            }
            final long domid = Integer.toUnsignedLong(request.u32(at + Payloads.REGION_XEN_DOMID));
            if (domain < 0)
            {
                domain = domid;
                where = "region " + i;
            }
            else if (domid != domain)
            {
                throw new GuestMemoryException("Xen regions of two domains on one connection: domid " + domain + " ("
                    + where + ") and domid " + domid + " (region " + i + ")");
            }
        }
    }

    private MemoryRegion mapRegion(final int offset, final int fd) throws GuestMemoryException, NativeException
    {
        if (xenEntries)
        {
            return MemoryRegion.mapXen(xen, fd,
                request.u64(offset + Payloads.REGION_GPA),
                request.u64(offset + Payloads.REGION_MEMORY_SIZE),
                request.u64(offset + Payloads.REGION_USER_ADDR),
                request.u64(offset + Payloads.REGION_MMAP_OFFSET),
                request.u32(offset + Payloads.REGION_XEN_FLAGS),
                request.u32(offset + Payloads.REGION_XEN_DOMID));
        }
        return MemoryRegion.map(fd,
            request.u64(offset + Payloads.REGION_GPA),
            request.u64(offset + Payloads.REGION_MEMORY_SIZE),
            request.u64(offset + Payloads.REGION_USER_ADDR),
            request.u64(offset + Payloads.REGION_MMAP_OFFSET));
    }

    private void addMemRegion() throws RequestException, GuestMemoryException, NativeException
    {
        xenEntries(request.size() >= Payloads.SINGLE_REGION_XEN_SIZE);
        requireSize(singleRegionSize());
        if (request.fds().count() != 1)
        {
            throw new RequestException("expected 1 descriptor, got " + request.fds().count());
        }
        checkOneDomain(1, 0, memory.peek());
        final MemoryRegion region = mapRegion(Payloads.SINGLE_REGION_REGION, request.fds().peek(0));
        final GuestMemory next;
        try
        {
            next = memory.peek().with(region, MAX_MEM_SLOTS);
        }
        catch (final GuestMemoryException | RuntimeException e)
        {
            region.release();
            throw e;
        }
        replaceMemory(next);
        LOG.log(Level.INFO, name + ": memory region added, " + region);
    }

    private int singleRegionSize()
    {
        return xenEntries ? Payloads.SINGLE_REGION_XEN_SIZE : Payloads.SINGLE_REGION_SIZE;
    }

    private void removeMemRegion() throws RequestException, GuestMemoryException
    {
        xenEntries(request.size() >= Payloads.SINGLE_REGION_XEN_SIZE);
        requireSize(singleRegionSize());
        final int r = Payloads.SINGLE_REGION_REGION;
        replaceMemory(memory.peek().without(request.u64(r + Payloads.REGION_GPA),
            request.u64(r + Payloads.REGION_MEMORY_SIZE), request.u64(r + Payloads.REGION_USER_ADDR)));
        LOG.log(Level.INFO, name + ": memory region removed at gpa 0x" + Long.toHexString(request.u64(r)));
    }

    /**
     * Publishes a new map; workers re-bind their rings to it at their next batch, and the old map is unmapped when
     * the last batch using it ends.
     */
    private void replaceMemory(final GuestMemory next)
    {
        memory.replace(next);
        for (final Vring v : vrings)
        {
            if (v.started)
            {
                workerOf(v).poke(v);
            }
        }
    }

    private void setVringNum() throws RequestException
    {
        requireSize(Payloads.VRING_STATE_SIZE);
        final Vring v = vring(Integer.toUnsignedLong(request.u32(Payloads.VRING_STATE_INDEX)));
        final int num = request.u32(Payloads.VRING_STATE_NUM);
        v.lock.lock();
        try
        {
            if (v.started)
            {
                throw new RequestException("queue " + v.index + " is running; stop it before resizing");
            }
            v.queue.setSize(num);
        }
        catch (final IllegalArgumentException e)
        {
            throw new RequestException(e.getMessage());
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private void setVringAddr() throws RequestException, GuestMemoryException
    {
        requireSize(Payloads.VRING_ADDR_SIZE);
        final Vring v = vring(Integer.toUnsignedLong(request.u32(Payloads.VRING_ADDR_INDEX)));
        v.lock.lock();
        try
        {
            if (v.started)
            {
                throw new RequestException("queue " + v.index + " is running; stop it before moving it");
            }
            v.queue.unbind();
            v.queue.setAddresses(request.u64(Payloads.VRING_ADDR_DESC), request.u64(Payloads.VRING_ADDR_AVAIL),
                request.u64(Payloads.VRING_ADDR_USED));
            // Validate now, against the current map, so the front-end hears about bad addresses.
            v.queue.bind(memory.peek());
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private void setVringBase() throws RequestException
    {
        requireSize(Payloads.VRING_STATE_SIZE);
        final Vring v = vring(Integer.toUnsignedLong(request.u32(Payloads.VRING_STATE_INDEX)));
        v.lock.lock();
        try
        {
            if (v.started)
            {
                throw new RequestException("queue " + v.index + " is running; stop it before setting its base");
            }
            v.queue.unbind();
            v.queue.setNextAvail(request.u32(Payloads.VRING_STATE_NUM) & 0xFFFF);
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private boolean getVringBase(final VhostUserConnection connection) throws RequestException, NativeException
    {
        requireSize(Payloads.VRING_STATE_SIZE);
        final Vring v = vring(Integer.toUnsignedLong(request.u32(Payloads.VRING_STATE_INDEX)));
        final int next;
        // On the ring's worker, so the device gives its chains back where it serves them; not under the ring's lock,
        // which the worker may be waiting for.
        if (givesChainsBack && !workerOf(v).runAndWait(() -> drain(v), DRAIN_TIMEOUT_NANOS))
        {
            LOG.log(Level.ERROR, name + ": queue " + v.index + "'s worker did not give back the device's chains within "
                + DRAIN_TIMEOUT_NANOS / 1_000_000_000L + " s; the ring stops without them");
        }
        v.lock.lock();
        try
        {
            stopLocked(v);
            next = v.queue.nextAvail();
        }
        finally
        {
            v.lock.unlock();
        }
        reply.header(GET_VRING_BASE, MessageHeader.REPLY_FLAGS, Payloads.VRING_STATE_SIZE)
            .u32(Payloads.VRING_STATE_INDEX, v.index).u32(Payloads.VRING_STATE_NUM, next);
        connection.send(reply);
        return true;
    }

    /**
     * GET_VRING_BASE on a started ring, run on its worker (or here when the worker has ended): the device gives back
     * every chain it still holds from it ({@link VirtioDevice#queueStopping}) before its avail index is reported, with
     * the ring bound to the current memory. The worker serves no queue meanwhile, and none of this ring until it is
     * started again ({@link Vring#stopping}).
     */
    private void drain(final Vring v)
    {
        v.lock.lock();
        try
        {
            if (!v.started || v.queue.isBroken())
            {
                return;
            }
            v.stopping = true;
            final GuestMemory mem = memory.acquire();
            try
            {
                if (v.queue.memory() != mem)
                {
                    try
                    {
                        v.queue.bind(mem);
                    }
                    catch (final GuestMemoryException | IllegalStateException e)
                    {
                        LOG.log(Level.WARNING, name + ": queue " + v.index + " is not in guest memory at its stop;"
                            + " chains the device holds are not returned: " + e.getMessage());
                        return;
                    }
                }
                v.active.stop(device);
            }
            finally
            {
                mem.release();
            }
        }
        finally
        {
            v.lock.unlock();
        }
    }

    /**
     * Stops a ring: the worker will not touch it again until the next SET_VRING_KICK. Caller holds the lock.
     */
    private void stopLocked(final Vring v)
    {
        final boolean wasStarted = v.started;
        workerOf(v).unwatchKick(v);
        v.started = false;
        v.stopping = false;
        v.closeFds();
        v.queue.unbind();
        if (wasStarted)
        {
            device.queueStopped(v.index);
            LOG.log(Level.INFO, name + ": queue " + v.index + " stopped at avail index " + v.queue.nextAvail());
        }
    }

    private int vringFileIndex(final long value) throws RequestException
    {
        if ((value & ~(Payloads.VRING_FILE_INDEX_MASK | Payloads.VRING_FILE_NOFD)) != 0)
        {
            throw new RequestException("reserved bits set in vring file value 0x" + Long.toHexString(value));
        }
        return (int)(value & Payloads.VRING_FILE_INDEX_MASK);
    }

    /**
     * @return the eventfd sent with a vring file message, or null when NOFD is set.
     * @throws RequestException when the descriptor is not a plain eventfd (then closed with the message's others).
     */
    private PeerEventFd takeVringFd(final long value) throws RequestException
    {
        if ((value & Payloads.VRING_FILE_NOFD) != 0)
        {
            return null;
        }
        if (request.fds().count() != 1)
        {
            throw new RequestException("expected 1 descriptor, got " + request.fds().count());
        }
        final PeerEventFd fd;
        try
        {
            fd = PeerEventFd.adopt(request.fds().peek(0));
        }
        catch (final IllegalArgumentException e)
        {
            throw new RequestException(e.getMessage());
        }
        request.fds().take(0);
        return fd;
    }

    private void setVringKick() throws RequestException, NativeException
    {
        final long value = requireU64();
        final Vring v = vring(vringFileIndex(value));
        final PeerEventFd kick = takeVringFd(value);
        v.lock.lock();
        try
        {
            final Worker worker = workerOf(v);
            worker.unwatchKick(v);
            v.replaceKick(kick);
            if (null != kick)
            {
                worker.watchKick(v);
            }
            else
            {
                LOG.log(Level.WARNING, name + ": queue " + v.index + " has no kick fd (polling is not supported);"
                    + " it is served only when poked");
            }
            v.started = true;
            v.stopping = false;
            if (!protocolFeaturesAcked())
            {
                v.enabled = true;
            }
            if (null == v.queue.memory())
            {
                // Bind now so a ring outside guest memory is reported with its start; the worker re-binds whenever
                // the map changes.
                try
                {
                    v.queue.bind(memory.peek());
                }
                catch (final GuestMemoryException | IllegalStateException e)
                {
                    LOG.log(Level.WARNING, name + ": queue " + v.index + " is not in guest memory yet: "
                        + e.getMessage());
                }
            }
            ranSinceReset = true;
            LOG.log(Level.INFO, name + ": queue " + v.index + " started, size " + v.queue.size() + ", avail index "
                + v.queue.nextAvail() + (v.enabled ? "" : " (waiting for SET_VRING_ENABLE)"));
            device.queueStarted(v.index);
            // Buffers may already be waiting: look at the ring once without a kick.
            worker.poke(v);
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private void setVringCall() throws RequestException
    {
        setVringFile(Vring::replaceCall);
    }

    private void setVringErr() throws RequestException
    {
        setVringFile(Vring::replaceErr);
    }

    /**
     * SET_VRING_CALL / SET_VRING_ERR: validates the vring file, then installs its eventfd (or none) under the lock.
     */
    private void setVringFile(final java.util.function.BiConsumer<Vring, PeerEventFd> install) throws RequestException
    {
        final long value = requireU64();
        final Vring v = vring(vringFileIndex(value));
        final PeerEventFd fd = takeVringFd(value);
        v.lock.lock();
        try
        {
            install.accept(v, fd);
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private void setVringEnable() throws RequestException
    {
        requireSize(Payloads.VRING_STATE_SIZE);
        if (!protocolFeaturesAcked() && featuresSet)
        {
            throw new RequestException("SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES negotiated");
        }
        final Vring v = vring(Integer.toUnsignedLong(request.u32(Payloads.VRING_STATE_INDEX)));
        final int num = request.u32(Payloads.VRING_STATE_NUM);
        if (num != 0 && num != 1)
        {
            throw new RequestException("enable must be 0 or 1, got " + Integer.toUnsignedString(num));
        }
        v.lock.lock();
        try
        {
            v.enabled = num == 1;
            if (v.enabled && v.started)
            {
                workerOf(v).poke(v);
            }
        }
        finally
        {
            v.lock.unlock();
        }
    }

    private boolean getConfig(final VhostUserConnection connection) throws RequestException, NativeException
    {
        requireSize(Payloads.CONFIG_HEADER);
        final int offset = request.u32(Payloads.CONFIG_OFFSET);
        final int size = request.u32(Payloads.CONFIG_SIZE);
        checkConfigRange(offset, size);
        resetIfDriverProbesAgain();
        reply.header(GET_CONFIG, MessageHeader.REPLY_FLAGS, Payloads.CONFIG_HEADER + size)
            .u32(Payloads.CONFIG_OFFSET, offset).u32(Payloads.CONFIG_SIZE, size)
            .u32(Payloads.CONFIG_FLAGS, request.u32(Payloads.CONFIG_FLAGS))
            .clearPayload(Payloads.CONFIG_DATA, size);
        if (size > 0)
        {
            device.readConfig(offset, reply.payload(Payloads.CONFIG_DATA, size));
        }
        connection.send(reply);
        return true;
    }

    private void checkConfigRange(final int offset, final int size) throws RequestException
    {
        final long end = Integer.toUnsignedLong(offset) + Integer.toUnsignedLong(size);
        if (Integer.toUnsignedLong(size) > Payloads.CONFIG_MAX_SIZE || end > device.configSize()
            || request.size() < Payloads.CONFIG_HEADER + Integer.toUnsignedLong(size))
        {
            throw new RequestException("config range outside the device's config space: offset="
                + Integer.toUnsignedString(offset) + ", size=" + Integer.toUnsignedString(size) + ", config size="
                + device.configSize() + ", payload=" + request.size());
        }
    }

    private void setConfig() throws RequestException
    {
        requireSize(Payloads.CONFIG_HEADER);
        final int offset = request.u32(Payloads.CONFIG_OFFSET);
        final int size = request.u32(Payloads.CONFIG_SIZE);
        checkConfigRange(offset, size);
        resetIfDriverProbesAgain();
        if (size > 0)
        {
            device.writeConfig(offset, request.payload(Payloads.CONFIG_DATA, size));
        }
    }

    private void setStatus(final int value) throws RequestException
    {
        if ((value & ~0xFF) != 0)
        {
            throw new RequestException("status must fit in a byte, got 0x" + Integer.toHexString(value));
        }
        // Only recorded, never a reset: where QEMU sends SET_STATUS 0 (devices whose vq_index_end it sets, not
        // vhost-user-gpu, -input or -rng) it does so on every stop, VM pauses included. See resetDevice.
        status = value;
    }

    private void setBackendReqFd() throws RequestException
    {
        if (request.fds().count() != 1)
        {
            throw new RequestException("expected 1 descriptor, got " + request.fds().count());
        }
        final BackendRequestChannel previous = backendChannel;
        backendChannel = new BackendRequestChannel(name, UnixSocket.adopt(request.fds().take(0)),
            ProtocolFeature.has(ackedProtocolFeatures, ProtocolFeature.REPLY_ACK));
        if (null != previous)
        {
            previous.close();
        }
    }

    /**
     * A config access while every ring is stopped, after rings ran since the last reset: the driver is probing the
     * device again, which it does only after resetting it (a paused VM's driver reads nothing). This is the reset
     * signal of front-ends that do not send RESET_DEVICE for a guest reset: QEMU before 9.1 negotiated it but never
     * sent it then. With QEMU 10 the RESET_DEVICE comes first and this finds nothing to do.
     */
    private void resetIfDriverProbesAgain()
    {
        if (!ranSinceReset)
        {
            return;
        }
        for (final Vring v : vrings)
        {
            v.lock.lock();
            try
            {
                if (v.started)
                {
                    return;
                }
            }
            finally
            {
                v.lock.unlock();
            }
        }
        resetDevice(FrontendRequest.name(request.request()) + " with every ring stopped: the driver probes the"
            + " device again");
    }

    /**
     * The one place a driver reset reaches the device ({@link VirtioDevice#reset}). What QEMU 10 sends, as measured
     * with vhost-user-gpu-pci (the README's "Guest reset and VM stop/cont" has the table):
     * <ul>
     * <li>VM {@code stop}: SET_VRING_ENABLE 0 and GET_VRING_BASE per ring (no SET_STATUS: vhost-user-gpu's
     * vq_index_end is 0); {@code cont}: GPU_SET_SOCKET, SET_FEATURES, GET_STATUS, then each ring from the base it
     * stopped at. Nothing tells it from a guest reset but what is missing: RESET_DEVICE and config reads.</li>
     * <li>guest reset (driver unbind/bind, {@code system_reset}, reboot): the same stop, then RESET_DEVICE from
     * QEMU's virtio_reset (since QEMU 9.1, when negotiated; once more per bus reset), then the driver's probe reads
     * the config (GET_CONFIG), then the start with every ring at base 0.</li>
     * </ul>
     * The rings' indices are no signal: both wrap to 0 every 65,536 buffers, so a paused ring can sit at 0.
     */
    private void resetDevice(final String reason)
    {
        for (final Vring v : vrings)
        {
            v.lock.lock();
            try
            {
                stopLocked(v);
                v.enabled = false;
                v.callPending = false;
                v.queue.setNextAvail(0);
            }
            finally
            {
                v.lock.unlock();
            }
        }
        ackedFeatures = 0;
        featuresSet = false;
        status = 0;
        ranSinceReset = false;
        device.reset();
        LOG.log(Level.INFO, name + ": device reset (" + reason + ")");
    }

    /**
     * Stops every ring and resets the device (end of connection).
     */
    private void stopAll()
    {
        if (null != extension)
        {
            try
            {
                extension.close();
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.ERROR, name + ": closing the " + device.name() + " extension failed: " + e, e);
            }
        }
        for (final Vring v : vrings)
        {
            v.lock.lock();
            try
            {
                stopLocked(v);
                v.enabled = false;
            }
            finally
            {
                v.lock.unlock();
            }
        }
        ranSinceReset = false;
        device.reset();
    }

    /**
     * Stops the workers, unmaps guest memory and closes every descriptor this connection held.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        stopAll();
        for (final Worker w : workers)
        {
            w.close();
        }
        memory.replace(GuestMemory.EMPTY);
        final BackendRequestChannel channel = backendChannel;
        backendChannel = null;
        if (null != channel)
        {
            channel.close();
        }
    }
}
