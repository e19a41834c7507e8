package io.jvhost.device.scsi;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-scsi (virtio ID 8), a host adapter with one target (0) whose LUNs 0..N-1 are {@link LogicalUnit}s over raw
 * images: the queues, features and configuration vhost-device-scsi offers, fronted by QEMU's
 * {@code vhost-user-scsi-pci}.
 * <pre>
 *  queue 0 controlq  task management (answered once no transfer is in flight) and asynchronous-event queries
 *  queue 1 eventq    buffers left in the ring: no hot-plug events are ever sent
 *  queue 2 requestq  commands: answered on the worker (a READ the page cache holds too, read without waiting),
 *                    or handed to DiskIo and completed when the disk is done
 *
 *  request (device-readable)                              response (device-writable)
 *  lun[8] | id le64 | task_attr | prio | crn | cdb[32] | data-out...   sense_len le32 | resid le32 |
 *                                                                       status_qualifier le16 | status | response |
 *                                                                       sense[96] | data-in...
 * </pre>
 * All queues share one worker; disk transfers come back through a bounded queue and a wake-up. Allocation-free per
 * request: the request, response and slot objects are made once.
 */
public final class ScsiDevice implements VirtioDevice
{
    /** virtio device ID of the SCSI host. */
    public static final int DEVICE_TYPE = 8;
    public static final int CONTROL = 0;
    public static final int EVENT = 1;
    public static final int REQUEST = 2;
    /** vhost-device-scsi's queue size, which QEMU's vhost-user-scsi uses by default (virtqueue_size=128). */
    public static final int QUEUE_SIZE = 128;
    /** VIRTIO_SCSI_F_HOTPLUG, offered as vhost-device-scsi does (no event is ever sent). */
    public static final int F_HOTPLUG = 1;
    public static final int MAX_LUNS = 256;
    public static final int CONFIG_SIZE = 36;
    static final int SENSE_SIZE = 96;
    static final int CDB_SIZE = Request.CDB_SIZE;
    /** lun[8], id, task_attr, prio, crn, cdb. */
    static final int REQUEST_HEADER = 8 + 8 + 3 + CDB_SIZE;
    /** sense_len, resid, status_qualifier, status, response, sense. */
    static final int RESPONSE_HEADER = 4 + 4 + 2 + 1 + 1 + SENSE_SIZE;

    static final int S_OK = 0;
    static final int S_OVERRUN = 1;
    static final int S_BAD_TARGET = 3;
    static final int S_FAILURE = 9;
    static final int S_FUNCTION_REJECTED = 11;
    static final int S_INCORRECT_LUN = 12;
    static final int S_FUNCTION_COMPLETE = 0;

    static final int T_TMF = 0;
    static final int T_AN_QUERY = 1;
    static final int T_AN_SUBSCRIBE = 2;
    /** Task management requests held while transfers are in flight; beyond, the control queue waits in the ring. */
    static final int MAX_HELD_TMF = 8;
    /** Task management subtypes 0..7 (ABORT_TASK .. QUERY_TASK_SET) are known; others are rejected. */
    static final int TMF_LAST_KNOWN = 7;

    private static final System.Logger LOG = System.getLogger(ScsiDevice.class.getName());
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    /**
     * Bytes a pass over the request queue reads from the page cache on the worker, at most: beyond, READs go to the
     * disk threads, so a deep queue of cached reads delays the control queue by a few memory copies only.
     */
    static final long CACHED_READ_BYTES_PER_PASS = 4L << 20;

    private final String name;
    private final LogicalUnit[] units;
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    private final Request request = new Request();
    private final byte[] header = new byte[REQUEST_HEADER];
    private final MemorySegment headerSegment = MemorySegment.ofArray(header);
    private final byte[] response = new byte[RESPONSE_HEADER];
    private final MemorySegment responseSegment = MemorySegment.ofArray(response);
    private final byte[] control = new byte[24];
    private final MemorySegment controlSegment = MemorySegment.ofArray(control);
    private final IoSlot[] slots;
    private final IoSlot[] free;
    private int freeCount;
    private final ArrayBlockingQueue<IoSlot> done;
    private final DiskIo disk;
    /** Tries a READ from the page cache on the worker ({@link IoSlot#tryReadCached}; tests turn it off). */
    private final java.util.function.Predicate<IoSlot> cachedRead;
    /** Bytes the current pass over the request queue may still read on the worker. */
    private long cachedBudget;
    private final Object drained = new Object();
    private final DescriptorChain[] heldTmf;
    private int tmfHeld;
    private volatile DeviceContext context;
    /** Bumped by stop and reset: transfers of an older generation are dropped, not completed. */
    private long generation;
    private long badChains;
    private long commands;

    /**
     * Opens {@code images} as LUNs 0..N-1.
     *
     * @param readOnly    open every image read-only and report the units write-protected.
     * @param solidState  report a non-rotating medium (Block Device Characteristics page).
     * @param diskThreads threads moving data between the images and guest memory.
     * @throws IOException naming the image that cannot be opened, or is smaller than one block.
     */
    public static ScsiDevice open(final String name, final List<String> images, final boolean readOnly,
        final boolean solidState, final int diskThreads) throws IOException
    {
        return open(name, images, readOnly, solidState, diskThreads, IoSlot::run, IoSlot::tryReadCached);
    }

    /**
     * With a disk of the test's own ({@code runner}), which every transfer goes to: no READ is served from the page
     * cache on the worker.
     */
    static ScsiDevice open(final String name, final List<String> images, final boolean readOnly,
        final boolean solidState, final int diskThreads, final java.util.function.Consumer<IoSlot> runner)
        throws IOException
    {
        return open(name, images, readOnly, solidState, diskThreads, runner, slot -> false);
    }

    /**
     * @param runner     runs each disk transfer on a disk thread ({@link IoSlot#run}).
     * @param cachedRead tries a READ on the worker first ({@link IoSlot#tryReadCached}); true when it is done.
     */
    static ScsiDevice open(final String name, final List<String> images, final boolean readOnly,
        final boolean solidState, final int diskThreads, final java.util.function.Consumer<IoSlot> runner,
        final java.util.function.Predicate<IoSlot> cachedRead) throws IOException
    {
        if (images.isEmpty() || images.size() > MAX_LUNS)
        {
            throw new IllegalArgumentException("a target has 1.." + MAX_LUNS + " LUNs, got " + images.size());
        }
        final LogicalUnit[] units = new LogicalUnit[images.size()];
        try
        {
            for (int i = 0; i < units.length; i++)
            {
                final ImageFile image = ImageFile.open(images.get(i), readOnly);
                try
                {
                    // Punching past the end changes nothing and tells whether the file system can punch holes.
                    final boolean canUnmap = !readOnly && image.punchHole(image.size(), LogicalUnit.BLOCK_SIZE) == 0;
                    units[i] = new LogicalUnit(i, image, solidState, canUnmap);
                }
                catch (final IllegalArgumentException e)
                {
                    image.close();
                    throw new IOException(e.getMessage(), e);
                }
            }
        }
        catch (final IOException e)
        {
            for (final LogicalUnit unit : units)
            {
                if (null != unit)
                {
                    unit.image().close();
                }
            }
            throw e;
        }
        return new ScsiDevice(name, units, diskThreads, runner, cachedRead);
    }

    ScsiDevice(final String name, final LogicalUnit[] units, final int diskThreads)
    {
        this(name, units, diskThreads, IoSlot::run, IoSlot::tryReadCached);
    }

    /**
     * @param runner     runs each disk transfer on a disk thread ({@link IoSlot#run}; tests slow it down).
     * @param cachedRead tries a READ on the worker first ({@link IoSlot#tryReadCached}); true when it is done.
     */
    ScsiDevice(final String name, final LogicalUnit[] units, final int diskThreads,
        final java.util.function.Consumer<IoSlot> runner, final java.util.function.Predicate<IoSlot> cachedRead)
    {
        if (units.length < 1 || units.length > MAX_LUNS)
        {
            throw new IllegalArgumentException("a target has 1.." + MAX_LUNS + " LUNs, got " + units.length);
        }
        this.name = name;
        this.cachedRead = cachedRead;
        this.units = units.clone();
        this.slots = new IoSlot[QUEUE_SIZE];
        this.free = new IoSlot[QUEUE_SIZE];
        for (int i = 0; i < QUEUE_SIZE; i++)
        {
            slots[i] = new IoSlot(QUEUE_SIZE);
            free[i] = slots[i];
        }
        this.freeCount = QUEUE_SIZE;
        this.done = new ArrayBlockingQueue<>(QUEUE_SIZE);
        this.heldTmf = new DescriptorChain[MAX_HELD_TMF];
        for (int i = 0; i < MAX_HELD_TMF; i++)
        {
            heldTmf[i] = new DescriptorChain(QUEUE_SIZE);
        }
        this.disk = new DiskIo(name, diskThreads, QUEUE_SIZE, runner, this::transferDone);
        config.set(LE32, 0, 1); // num_queues: one request queue
        config.set(LE32, 4, QUEUE_SIZE - 2); // seg_max
        config.set(LE32, 8, 0xFFFF); // max_sectors
        config.set(LE32, 12, QUEUE_SIZE); // cmd_per_lun
        config.set(LE32, 16, 0); // event_info_size: no events
        config.set(LE32, 20, SENSE_SIZE);
        config.set(LE32, 24, CDB_SIZE);
        config.set(LE16, 28, (short)0); // max_channel
        config.set(LE16, 30, (short)0); // max_target: only target 0
        config.set(LE32, 32, units.length - 1); // max_lun
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "scsi";
    }

    @Override
    public int queueCount()
    {
        return 3;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | 1L << F_HOTPLUG;
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
        // The driver may write sense_size and cdb_size; only the values already there are served.
        LOG.log(Level.INFO, name + ": config write of " + src.byteSize() + " bytes at offset " + offset
            + " ignored: sense_size stays " + SENSE_SIZE + ", cdb_size " + CDB_SIZE);
    }

    @Override
    public void attach(final DeviceContext newContext)
    {
        this.context = newContext;
    }

    /**
     * @return the logical units, LUN 0 first.
     */
    LogicalUnit[] units()
    {
        return units;
    }

    /**
     * @return commands received on the request queue.
     */
    public synchronized long commands()
    {
        return commands;
    }

    /**
     * @return chains returned unused because they could not carry a request and its response.
     */
    public synchronized long badChains()
    {
        return badChains;
    }

    @Override
    public synchronized void processQueue(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case CONTROL -> serveControl(queue);
            case REQUEST -> serveRequests(queue);
            default ->
            {
                // Event buffers stay in the ring: with no events to send there is nothing to do with them.
            }
        }
    }

    private void serveRequests(final DeviceQueue queue)
    {
        completeTransfers(queue);
        cachedBudget = CACHED_READ_BYTES_PER_PASS;
        while (freeCount > 0)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            commands++;
            serveRequest(queue, chain);
        }
    }

    private void serveRequest(final DeviceQueue queue, final DescriptorChain chain)
    {
        final long dataOut = chain.readableBytes() - REQUEST_HEADER;
        final long dataIn = chain.writableBytes() - RESPONSE_HEADER;
        if (dataOut < 0 || dataIn < 0)
        {
            refuse(chain, "a request needs " + REQUEST_HEADER + " readable and " + RESPONSE_HEADER
                + " writable bytes, got " + chain.readableBytes() + " and " + chain.writableBytes());
            queue.complete(chain, 0);
            return;
        }
        try
        {
            chain.reader().read(headerSegment, 0, REQUEST_HEADER);
            System.arraycopy(header, REQUEST_HEADER - CDB_SIZE, request.cdb, 0, CDB_SIZE);
            final int op = request.opcode();
            request.paramsLength = 0;
            if (op == 0x42 || op == 0x93)
            {
                request.paramsLength = (int)Math.min(dataOut, Request.DATA_CAPACITY);
                chain.reader().read(request.paramsSegment, 0, request.paramsLength);
            }
            final int target = lunTarget();
            if (target < 0)
            {
                respond(queue, chain, S_BAD_TARGET, Sense.GOOD, null, 0, 0, dataIn);
                return;
            }
            final LogicalUnit unit = target < units.length ? units[target] : null;
            if (null == unit)
            {
                LogicalUnit.answerAbsent(request, units);
            }
            else
            {
                unit.execute(request, units);
            }
            if (request.io == Request.IO_NONE)
            {
                respond(queue, chain, S_OK, request.status, request.sense, request.senseLength, request.dataLength,
                    dataIn);
                return;
            }
            final GuestMemory memory = queue.memory();
            if (!memory.tryRetain())
            {
                respond(queue, chain, S_FAILURE, Sense.GOOD, null, 0, 0, dataIn);
                return;
            }
            final IoSlot slot = free[--freeCount];
            final boolean write = request.io == Request.IO_WRITE;
            slot.plan(request, chain, memory, unit, write ? REQUEST_HEADER : RESPONSE_HEADER, write ? dataOut
                : dataIn);
            slot.generation = generation;
            if (request.io == Request.IO_READ && cachedBudget > 0 && cachedRead.test(slot))
            {
                // Read from the page cache right here: no hand-over to a disk thread and back.
                cachedBudget -= slot.transferred;
                complete(queue, slot);
                return;
            }
            disk.submit(slot);
        }
        catch (final ChainAccessException e)
        {
            refuse(chain, e.getMessage());
            queue.complete(chain, 0);
        }
    }

    /**
     * @return the LUN addressed by the request header (LUNs on target 0), {@link Integer#MAX_VALUE} for an address
     *     on target 0 that names no LUN this target could have, or -1 for another target.
     */
    private int lunTarget()
    {
        return decodeLun(header, 0);
    }

    /**
     * Decodes virtio-scsi's 8-byte LUN: byte 0 is 1, byte 1 the target, bytes 2-3 the LUN (flat or peripheral
     * addressing), bytes 4-7 zero.
     *
     * @return as {@link #lunTarget()}.
     */
    static int decodeLun(final byte[] lun, final int at)
    {
        if (lun[at] != 1 || lun[at + 1] != 0)
        {
            return -1;
        }
        for (int i = 4; i < 8; i++)
        {
            if (lun[at + i] != 0)
            {
                return Integer.MAX_VALUE;
            }
        }
        final int method = (lun[at + 2] & 0xC0) >>> 6;
        if (method == 1)
        {
            return ((lun[at + 2] & 0x3F) << 8) | (lun[at + 3] & 0xFF);
        }
        if (method == 0 && lun[at + 2] == 0)
        {
            return lun[at + 3] & 0xFF;
        }
        return Integer.MAX_VALUE;
    }

    /**
     * Writes the response header, then {@code dataLength} bytes of {@link Request#data} as data-in, and completes.
     */
    private void respond(final DeviceQueue queue, final DescriptorChain chain, final int virtioResponse,
        final int status, final byte[] sense, final int senseLength, final int dataLength, final long dataIn)
        throws ChainAccessException
    {
        final int data = (int)Math.min(dataLength, dataIn);
        writeResponse(chain, virtioResponse, status, sense, senseLength, dataIn - data);
        if (data > 0)
        {
            chain.writer().write(request.dataSegment, 0, data);
        }
        queue.complete(chain, RESPONSE_HEADER + data);
    }

    private void writeResponse(final DescriptorChain chain, final int virtioResponse, final int status,
        final byte[] sense, final int senseLength, final long resid) throws ChainAccessException
    {
        java.util.Arrays.fill(response, (byte)0);
        responseSegment.set(LE32, 0, senseLength);
        responseSegment.set(LE32, 4, (int)Math.min(resid, 0xFFFF_FFFFL));
        response[10] = (byte)status;
        response[11] = (byte)virtioResponse;
        if (senseLength > 0)
        {
            System.arraycopy(sense, 0, response, 12, senseLength);
        }
        chain.writer().rewind();
        chain.writer().write(responseSegment, 0, RESPONSE_HEADER);
    }

    /** Called on a disk thread. */
    private void transferDone(final IoSlot slot)
    {
        if (!done.offer(slot))
        {
            LOG.log(Level.ERROR, name + ": completion queue full; a transfer's completion was lost");
        }
        synchronized (drained)
        {
            drained.notifyAll();
        }
        final DeviceContext c = context;
        if (null != c)
        {
            c.wake(REQUEST);
        }
    }

    private void completeTransfers(final DeviceQueue queue)
    {
        IoSlot slot;
        while (null != (slot = done.poll()))
        {
            complete(queue, slot);
        }
        if (tmfHeld > 0 && freeCount == QUEUE_SIZE)
        {
            final DeviceContext c = context;
            if (null != c)
            {
                c.wake(CONTROL);
            }
        }
    }

    /**
     * Answers a finished transfer (unless it belongs to an older generation) and frees its slot.
     */
    private void complete(final DeviceQueue queue, final IoSlot slot)
    {
        try
        {
            if (slot.generation == generation)
            {
                final long dataIn = slot.chain.writableBytes() - RESPONSE_HEADER;
                final boolean moves = slot.io == Request.IO_READ || slot.io == Request.IO_WRITE;
                final long moved = slot.io == Request.IO_READ ? slot.transferred : 0;
                writeResponse(slot.chain, slot.response, slot.status, slot.sense, slot.senseLength,
                    moves ? slot.dataCapacity - slot.transferred : dataIn);
                queue.complete(slot.chain, RESPONSE_HEADER + moved);
            }
        }
        catch (final ChainAccessException e)
        {
            refuse(slot.chain, e.getMessage());
            queue.complete(slot.chain, 0);
        }
        finally
        {
            slot.memory.release();
            slot.memory = null;
            free[freeCount++] = slot;
        }
    }

    private void serveControl(final DeviceQueue queue)
    {
        if (tmfHeld > 0 && freeCount == QUEUE_SIZE)
        {
            for (int i = 0; i < tmfHeld; i++)
            {
                answerTmf(queue, heldTmf[i]);
            }
            tmfHeld = 0;
        }
        while (tmfHeld < MAX_HELD_TMF)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            try
            {
                if (chain.readableBytes() < 4)
                {
                    refuse(chain, "control request of " + chain.readableBytes() + " readable bytes");
                    queue.complete(chain, 0);
                    continue;
                }
                chain.reader().read(controlSegment, 0, 4);
                final int type = controlSegment.get(LE32, 0);
                if (type == T_TMF)
                {
                    if (chain.readableBytes() < 24 || chain.writableBytes() < 1)
                    {
                        refuse(chain, "task management request needs 24 readable and 1 writable bytes, got "
                            + chain.readableBytes() + " and " + chain.writableBytes());
                        queue.complete(chain, 0);
                        continue;
                    }
                    if (freeCount < QUEUE_SIZE)
                    {
                        // Answered once no transfer is in flight, so an aborted command never completes after its
                        // abort was confirmed; other control requests are served meanwhile.
                        heldTmf[tmfHeld++].copyFrom(chain);
                        continue;
                    }
                    answerTmf(queue, chain);
                }
                else if (type == T_AN_QUERY || type == T_AN_SUBSCRIBE)
                {
                    if (chain.readableBytes() < 16 || chain.writableBytes() < 5)
                    {
                        refuse(chain, "event request needs 16 readable and 5 writable bytes, got "
                            + chain.readableBytes() + " and " + chain.writableBytes());
                        queue.complete(chain, 0);
                        continue;
                    }
                    chain.reader().read(controlSegment, 4, 12);
                    final int lun = decodeLun(control, 4);
                    chain.writer().writeInt(0); // event_actual: no asynchronous events are supported
                    chain.writer().writeByte((byte)(lun < 0 ? S_BAD_TARGET : lun < units.length ? S_OK
                        : S_INCORRECT_LUN));
                    queue.complete(chain, 5);
                }
                else
                {
                    refuse(chain, "unknown control request type " + Integer.toUnsignedString(type));
                    queue.complete(chain, 0);
                }
            }
            catch (final ChainAccessException e)
            {
                refuse(chain, e.getMessage());
                queue.complete(chain, 0);
            }
        }
    }

    private void answerTmf(final DeviceQueue queue, final DescriptorChain chain)
    {
        try
        {
            chain.reader().rewind();
            chain.reader().read(controlSegment, 0, 24);
            final int subtype = controlSegment.get(LE32, 4);
            final int lun = decodeLun(control, 8);
            final int answer = lun < 0 ? S_BAD_TARGET : lun >= units.length ? S_INCORRECT_LUN
                : subtype < 0 || subtype > TMF_LAST_KNOWN ? S_FUNCTION_REJECTED : S_FUNCTION_COMPLETE;
            LOG.log(Level.INFO, name + ": task management " + Integer.toUnsignedString(subtype) + " for lun "
                + lun + " answered " + answer);
            chain.writer().rewind();
            chain.writer().writeByte((byte)answer);
            queue.complete(chain, 1);
        }
        catch (final ChainAccessException e)
        {
            refuse(chain, e.getMessage());
            queue.complete(chain, 0);
        }
    }

    private void refuse(final DescriptorChain chain, final String why)
    {
        if (LogThrottle.due(++badChains))
        {
            LOG.log(Level.WARNING, name + ": request " + chain.head() + " returned unanswered: " + why + " ("
                + badChains + " so far)");
        }
    }

    /**
     * The ring stops (GET_VRING_BASE: a VM stop): in-flight I/O is drained, as the vhost-user front-end expects of a
     * stop (QEMU's C back-ends and SPDK finish their requests before they report the ring's base). The request queue
     * waits for its disk transfers (at most {@link #DRAIN_TIMEOUT_NANOS}) and answers each with its real result; the
     * control queue answers the task management functions it held for them once no transfer runs. The event queue
     * holds nothing (no events are reported).
     */
    @Override
    public void queueStopping(final DeviceQueue queue)
    {
        if (queue.index() == REQUEST)
        {
            awaitTransfers();
            completeTransfers(queue);
        }
        else if (queue.index() == CONTROL && tmfHeld > 0)
        {
            awaitTransfers();
            for (int i = 0; i < tmfHeld; i++)
            {
                answerTmf(queue, heldTmf[i]);
            }
            tmfHeld = 0;
        }
    }

    /**
     * @return disk transfers submitted and not finished yet.
     */
    int transfersRunning()
    {
        return disk.running();
    }

    @Override
    public void queueStopped(final int queue)
    {
        if (queue == REQUEST)
        {
            awaitTransfers();
            forgetTransfers();
        }
    }

    @Override
    public void reset()
    {
        awaitTransfers();
        forgetTransfers();
    }

    /**
     * Drops the transfers of the ending connection or driver: finished ones are freed without being completed, any
     * still running are dropped when they come back (their generation is old).
     */
    private synchronized void forgetTransfers()
    {
        generation++;
        tmfHeld = 0;
        IoSlot slot;
        while (null != (slot = done.poll()))
        {
            slot.memory.release();
            slot.memory = null;
            free[freeCount++] = slot;
        }
    }

    /**
     * Waits until no disk transfer writes into guest memory any more: after a stop the front-end may reuse it.
     */
    private void awaitTransfers()
    {
        final long deadline = System.nanoTime() + DRAIN_TIMEOUT_NANOS;
        synchronized (drained)
        {
            while (disk.running() > 0)
            {
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    LOG.log(Level.ERROR, name + ": " + disk.running() + " disk transfer(s) still running after "
                        + TimeUnit.NANOSECONDS.toSeconds(DRAIN_TIMEOUT_NANOS) + " s; stopping without them");
                    return;
                }
                try
                {
                    TimeUnit.NANOSECONDS.timedWait(drained, left);
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Stops the disk threads (after the last front-end left).
     */
    public void close()
    {
        disk.close();
        for (final LogicalUnit unit : units)
        {
            unit.image().close();
        }
    }

    /**
     * @return one line per LUN: number, image, blocks, flags.
     */
    public String describe()
    {
        final StringBuilder b = new StringBuilder();
        for (final LogicalUnit unit : units)
        {
            b.append(b.isEmpty() ? "" : "; ").append("lun ").append(unit.lun()).append(": ").append(unit.image())
                .append(", ").append(unit.blocks()).append(" blocks").append(unit.canUnmap() ? ", unmap" : "");
        }
        return b.toString();
    }
}
