package io.jvhost.device.video;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatcher;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.video.wire.Command;
import io.jvhost.device.video.wire.Response;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * <b>Staging</b> (as in rust-vmm): the virtio-video decoder (virtio ID 31), the draft v3 protocol that rust-vmm's
 * staging vhost-device-video implements. No Linux kernel has a driver for it. Queue 0 (commandq) carries commands;
 * queue 1 (eventq) would carry events, which neither back-end raises, so its buffers stay with the device until the
 * driver resets. The config space is {@code le32 version (0), le32 max_caps_length (4096), le32 max_resp_length
 * (4096), u8 device_name[32]}. The device offers VIRTIO_VIDEO_F_RESOURCE_GUEST_PAGES (resources in guest pages).
 * <p>
 * The device keeps the streams (up to {@value #MAX_STREAMS}, numbered by the driver) and each stream's resource ids
 * (up to {@value #MAX_RESOURCES} per queue) and checks every command before its back-end sees it, answering as the
 * draft defines: a command shorter than its structure, an unknown command type, a queue type, memory type, coded
 * format or control the draft does not define: ERR_INVALID_OPERATION (rust's answer to a command it cannot parse); a
 * stream id that is not open (or, for STREAM_CREATE, already open): ERR_INVALID_STREAM_ID; a resource id not created
 * on that queue (or, for RESOURCE_CREATE, already created): ERR_INVALID_RESOURCE_ID; virtio objects (not offered),
 * more than 8 planes, no memory entries, more than {@value #MAX_ENTRIES} or entries outside guest RAM:
 * ERR_INVALID_PARAMETER; no room for another stream or resource: ERR_OUT_OF_MEMORY. A response that does not fit the
 * writable part becomes ERR_INVALID_PARAMETER; a chain without room for the 8-byte header is returned empty.
 * Refusals are one log line each (the first ten, then every thousandth).
 * <p>
 * RESOURCE_QUEUE: when the back-end keeps the buffer ({@link VideoBackend#HELD}) the device holds the command (its
 * descriptors, at most {@value #MAX_HELD_DESCRIPTORS}, with room for the 24-byte answer: else ERR_INVALID_PARAMETER) until the back-end reports the buffer done
 * ({@link VideoBackend.Host#completed}), then answers OK_RESOURCE_QUEUE (timestamp, flags, size) on the command
 * queue's worker, written through the memory of the batch that answers it, in the order the back-end reported. A
 * resource already held is refused (ERR_INVALID_PARAMETER). QUEUE_CLEAR answers the queue's held commands with
 * OK_RESOURCE_QUEUE, flags VIRTIO_VIDEO_BUFFER_FLAG_ERR, their timestamp and size 0, before its own OK_NODATA (the
 * draft: cleared buffers come back without being processed, flagged ERR, as the QEMU vhost-user-video reference
 * answers them); STREAM_DESTROY and RESOURCE_DESTROY_ALL do the same for the held buffers they end. A reset (the
 * driver's or a new front-end's) drops them with the ring.
 * <p>
 * Steady state (RESOURCE_QUEUE, held or not, and its completion) allocates nothing: commands are read into one
 * scratch buffer, responses built in another, the stream, resource and held-command tables are preallocated.
 */
public final class VideoDevice implements VirtioDevice, AutoCloseable, VideoBackend.Host
{
    public static final int DEVICE_TYPE = 31;
    public static final int QUEUE_SIZE = 1024;
    public static final int COMMAND_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    public static final int CONFIG_SIZE = 44;
    /** VIRTIO_VIDEO_F_RESOURCE_GUEST_PAGES. */
    public static final int F_RESOURCE_GUEST_PAGES = 0;
    public static final int MAX_CAPS_LENGTH = 4096;
    public static final int MAX_STREAMS = 32;
    public static final int MAX_RESOURCES = 64;
    public static final int MAX_ENTRIES = 1024;
    /** The descriptors a held RESOURCE_QUEUE chain may have. */
    public static final int MAX_HELD_DESCRIPTORS = 16;
    /** VIRTIO_VIDEO_BUFFER_FLAG_ERR. */
    public static final int BUFFER_FLAG_ERR = 0x0001;
    /** VIRTIO_VIDEO_BUFFER_FLAG_EOS. */
    public static final int BUFFER_FLAG_EOS = 0x0002;
    private static final int RESOURCE_QUEUE_RESPONSE = 24;

    public static final int CMD_QUERY_CAPABILITY = 0x0100;
    public static final int CMD_STREAM_CREATE = 0x0101;
    public static final int CMD_STREAM_DESTROY = 0x0102;
    public static final int CMD_STREAM_DRAIN = 0x0103;
    public static final int CMD_RESOURCE_CREATE = 0x0104;
    public static final int CMD_RESOURCE_QUEUE = 0x0105;
    public static final int CMD_RESOURCE_DESTROY_ALL = 0x0106;
    public static final int CMD_QUEUE_CLEAR = 0x0107;
    public static final int CMD_QUERY_CONTROL = 0x010A;
    public static final int CMD_GET_CONTROL = 0x010B;
    public static final int CMD_GET_PARAMS_EXT = 0x010D;
    public static final int CMD_SET_PARAMS_EXT = 0x010E;

    public static final int RESP_OK_NODATA = 0x0200;
    public static final int RESP_OK_QUERY_CAPABILITY = 0x0201;
    public static final int RESP_OK_RESOURCE_QUEUE = 0x0202;
    public static final int RESP_OK_GET_PARAMS = 0x0203;
    public static final int RESP_OK_QUERY_CONTROL = 0x0204;
    public static final int RESP_OK_GET_CONTROL = 0x0205;
    public static final int RESP_ERR_INVALID_OPERATION = 0x0206;
    public static final int RESP_ERR_OUT_OF_MEMORY = 0x0207;
    public static final int RESP_ERR_INVALID_STREAM_ID = 0x0208;
    public static final int RESP_ERR_INVALID_RESOURCE_ID = 0x0209;
    public static final int RESP_ERR_INVALID_PARAMETER = 0x020A;
    public static final int RESP_ERR_UNSUPPORTED_CONTROL = 0x020B;

    public static final int QUEUE_TYPE_INPUT = 0x100;
    public static final int QUEUE_TYPE_OUTPUT = 0x101;
    public static final int MEM_TYPE_GUEST_PAGES = 0;
    public static final int MEM_TYPE_VIRTIO_OBJECT = 1;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(VideoDevice.class.getName());

    private final String name;
    private final VideoBackend backend;
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    private final MemorySegment request = MemorySegment.ofArray(new byte[Command.MAX_SIZE]);
    private final MemorySegment response = MemorySegment.ofArray(new byte[Response.MAX_SIZE]);
    private final Command cmd = new Command();
    private final Response resp = new Response();
    private final int[] streamIds = new int[MAX_STREAMS];
    private final boolean[] streamOpen = new boolean[MAX_STREAMS];
    /** Resource ids by stream slot, queue (0 input, 1 output), index. */
    private final int[][][] resources = new int[MAX_STREAMS][2][MAX_RESOURCES];
    private final int[][] resourceCount = new int[MAX_STREAMS][2];
    /** Held RESOURCE_QUEUE commands, by {@link #key}: the chain head, or -1. */
    private final int[] heldHead = new int[MAX_STREAMS * 2 * MAX_RESOURCES];
    /** Entries of {@link #heldHead} that are not -1. */
    private int heldCount;
    private final long[] heldTimestamp = new long[heldHead.length];
    /** Copies of the held chains, made once per resource slot (not per queued buffer). */
    private final DescriptorChain[] heldChains = new DescriptorChain[heldHead.length];
    /** Done and not yet answered: the answer's flags, timestamp and size. */
    private final boolean[] ready = new boolean[heldHead.length];
    private final int[] readyFlags = new int[heldHead.length];
    private final long[] readyTimestamp = new long[heldHead.length];
    private final int[] readySize = new int[heldHead.length];
    /** Keys of the ready commands in the order reported (each key is in it at most once). */
    private final int[] readyOrder = new int[heldHead.length];
    private int readyFirst;
    private int readyCount;
    private final int[] dataSizes = new int[Command.MAX_PLANES];
    private volatile DeviceContext context;
    private volatile GuestMemory memory;
    /** The queue being served, during {@link #processQueue}. */
    private DeviceQueue serving;
    private final Refusals refusals;

    public VideoDevice(final String name, final VideoBackend backend)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "command");
        this.backend = backend;
        cmd.wrap(request);
        resp.wrap(response);
        java.util.Arrays.fill(heldHead, -1);
        config.set(LE32, 0, 0);
        config.set(LE32, 4, MAX_CAPS_LENGTH);
        config.set(LE32, 8, MAX_CAPS_LENGTH);
        final String deviceName = backend.deviceName();
        for (int i = 0; i < Math.min(deviceName.length(), 31); i++)
        {
            config.set(ValueLayout.JAVA_BYTE, 12 + i, (byte)(deviceName.charAt(i) < 0x80 ? deviceName.charAt(i) : '?'));
        }
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "video";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE | 1L << F_RESOURCE_GUEST_PAGES;
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
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
        backend.attach(this);
    }

    @Override
    public FdWatcher watcher()
    {
        final DeviceContext c = context;
        return null == c ? (fd, onReadable) -> null : c.watcher(COMMAND_QUEUE);
    }

    @Override
    public GuestMemory memory()
    {
        return memory;
    }

    /**
     * @return streams open (created and not destroyed).
     */
    int openStreams()
    {
        int n = 0;
        for (final boolean open : streamOpen)
        {
            n += open ? 1 : 0;
        }
        return n;
    }

    /**
     * @return RESOURCE_QUEUE commands held, waiting for their buffer.
     */
    public int heldCommands()
    {
        return heldCount;
    }

    @Override
    public void completed(final int streamId, final int queueType, final int resourceId, final int flags,
        final long timestamp, final int size)
    {
        final int slot = slotOf(streamId);
        final int q = queueType(queueType);
        final int index = slot < 0 || q < 0 ? -1 : indexOf(slot, q, resourceId);
        final int key = index < 0 ? -1 : key(slot, q, index);
        if (key < 0 || heldHead[key] < 0 || ready[key] || readyCount == readyOrder.length)
        {
            LOG.log(Level.WARNING, name + ": back-end reported resource " + Integer.toUnsignedString(resourceId)
                + " of stream " + Integer.toUnsignedString(streamId) + " queue 0x" + Integer.toHexString(queueType)
                + " done, which is not held; ignored");
            return;
        }
        ready[key] = true;
        readyFlags[key] = flags;
        readyTimestamp[key] = timestamp;
        readySize[key] = size;
        readyOrder[(readyFirst + readyCount++) % readyOrder.length] = key;
        final DeviceContext c = context;
        if (null == serving && null != c)
        {
            c.wake(COMMAND_QUEUE);
        }
    }

    private static int key(final int slot, final int q, final int index)
    {
        return (slot * 2 + q) * MAX_RESOURCES + index;
    }

    /**
     * Answers the ready held commands, in the order reported.
     */
    private void answerReady(final DeviceQueue queue)
    {
        while (readyCount > 0)
        {
            final int key = readyOrder[readyFirst];
            readyFirst = (readyFirst + 1) % readyOrder.length;
            readyCount--;
            if (ready[key])
            {
                ready[key] = false;
                release(queue, key, readyFlags[key], readyTimestamp[key], readySize[key]);
            }
        }
    }

    /**
     * Answers the held command {@code key} with OK_RESOURCE_QUEUE, written through the queue's current memory.
     */
    private void release(final DeviceQueue queue, final int key, final int flags, final long timestamp,
        final int size)
    {
        final int head = heldHead[key];
        heldCount -= head >= 0 ? 1 : 0;
        heldHead[key] = -1;
        ready[key] = false;
        final int n = resp.resourceQueue(RESP_OK_RESOURCE_QUEUE, timestamp, flags, size);
        final GuestMemory m = queue.memory();
        final DescriptorChain held = heldChains[key];
        int done = 0;
        try
        {
            for (int i = held.readableCount(); i < held.count() && done < n; i++)
            {
                final int length = (int)Math.min(Integer.toUnsignedLong(held.length(i)), n - done);
                m.write(held.address(i), response, done, length);
                done += length;
            }
        }
        catch (final GuestMemoryException | RuntimeException e)
        {
            LOG.log(Level.WARNING, name + ": held command " + head + " is no longer in guest memory: "
                + e.getMessage() + "; returned empty");
            done = 0;
        }
        queue.complete(held, done);
    }

    /**
     * Answers every held command of stream slot {@code slot}, queue {@code q} (0, 1; -1 for both) with flag ERR.
     */
    private void returnHeld(final int slot, final int q)
    {
        for (int qq = q < 0 ? 0 : q; qq <= (q < 0 ? 1 : q); qq++)
        {
            for (int i = 0; i < MAX_RESOURCES; i++)
            {
                final int key = key(slot, qq, i);
                if (heldHead[key] >= 0)
                {
                    release(serving, key, BUFFER_FLAG_ERR, heldTimestamp[key], 0);
                }
            }
        }
    }

    /**
     * @return commands refused by the device's checks or returned empty.
     */
    public long refusedCommands()
    {
        return refusals.count();
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() != COMMAND_QUEUE)
        {
            return;
        }
        memory = queue.memory();
        serving = queue;
        try
        {
            answerReady(queue);
            DescriptorChain chain;
            while (null != (chain = queue.next()))
            {
                final long written = answer(chain);
                // The buffers this command finished (a drain's, a clear's) come back before its own answer.
                answerReady(queue);
                if (written >= 0)
                {
                    queue.complete(chain, written);
                }
            }
        }
        finally
        {
            serving = null;
        }
    }

    private long answer(final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        if (out.remaining() < Response.HEADER_SIZE)
        {
            refusals.refuse(chain, "has " + out.remaining() + " writable bytes, too few for the 8-byte response header;"
                + " returned empty");
            return 0;
        }
        int size = respond(chain);
        if (size == VideoBackend.HELD)
        {
            return -1;
        }
        if (size > out.remaining())
        {
            refusals.refuse(chain, "needs " + size + " writable bytes for its response, has " + out.remaining());
            size = resp.header(RESP_ERR_INVALID_PARAMETER);
        }
        try
        {
            out.write(response, 0, size);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return size;
    }

    /**
     * @return the size of the response built in {@link #response}.
     */
    private int respond(final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        final long readable = in.remaining();
        if (readable < Command.HEADER_SIZE)
        {
            return refuse(chain, RESP_ERR_INVALID_OPERATION, "has " + readable + " readable bytes, fewer than the"
                + " 8-byte header");
        }
        final int n = (int)Math.min(readable, Command.MAX_SIZE);
        try
        {
            in.read(request, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return resp.header(RESP_ERR_INVALID_OPERATION);
        }
        final int type = cmd.type();
        final int needed = size(type);
        if (needed < 0)
        {
            return refuse(chain, RESP_ERR_INVALID_OPERATION, "has unknown type 0x" + Integer.toHexString(type));
        }
        if (n < needed)
        {
            return refuse(chain, RESP_ERR_INVALID_OPERATION, "is type 0x" + Integer.toHexString(type) + " of " + n
                + " bytes, shorter than its " + needed);
        }
        final int id = cmd.streamId();
        switch (type)
        {
            case CMD_QUERY_CAPABILITY:
                return queueType(cmd.word8()) < 0 ? badQueueType(chain) : backend.queryCapability(cmd.word8(), resp);
            case CMD_QUERY_CONTROL:
                return control(chain, cmd.word8()) ? backend.queryControl(cmd.word8(), resp)
                    : resp.header(RESP_ERR_INVALID_OPERATION);
            case CMD_STREAM_CREATE:
                return createStream(chain, id);
            default:
                break;
        }
        final int slot = slotOf(id);
        if (slot < 0)
        {
            return refuse(chain, RESP_ERR_INVALID_STREAM_ID, "is type 0x" + Integer.toHexString(type) + " on stream "
                + Integer.toUnsignedString(id) + ", which is not open");
        }
        return switch (type)
        {
            case CMD_STREAM_DESTROY ->
            {
                backend.destroyStream(id);
                returnHeld(slot, -1);
                streamOpen[slot] = false;
                LOG.log(Level.INFO, name + ": stream " + Integer.toUnsignedString(id) + " destroyed");
                yield resp.header(RESP_OK_NODATA);
            }
            case CMD_STREAM_DRAIN -> resp.header(backend.drain(id));
            case CMD_GET_CONTROL -> control(chain, cmd.word8()) ? resp.header(RESP_ERR_UNSUPPORTED_CONTROL)
                : resp.header(RESP_ERR_INVALID_OPERATION);
            default -> queueCommand(chain, type, id, slot, in);
        };
    }

    /**
     * The commands that name a queue type at offset 8.
     */
    private int queueCommand(final DescriptorChain chain, final int type, final int id, final int slot,
        final ChainReader in)
    {
        final int q = queueType(cmd.word8());
        if (q < 0)
        {
            return badQueueType(chain);
        }
        return switch (type)
        {
            case CMD_RESOURCE_CREATE -> createResource(chain, id, slot, q, in);
            case CMD_RESOURCE_QUEUE ->
            {
                if (indexOf(slot, q, cmd.word12()) < 0)
                {
                    yield refuse(chain, RESP_ERR_INVALID_RESOURCE_ID, "queues resource "
                        + Integer.toUnsignedString(cmd.word12()) + ", not created on that queue");
                }
                if (Integer.compareUnsigned(cmd.numDataSizes(), Command.MAX_PLANES) > 0)
                {
                    yield refuse(chain, RESP_ERR_INVALID_PARAMETER, "queues " + Integer.toUnsignedString(
                        cmd.numDataSizes()) + " data sizes, more than 8");
                }
                yield queueResource(chain, id, slot, q);
            }
            case CMD_RESOURCE_DESTROY_ALL ->
            {
                final int status = backend.destroyResources(id, cmd.word8());
                returnHeld(slot, q);
                resourceCount[slot][q] = 0;
                yield resp.header(status);
            }
            case CMD_QUEUE_CLEAR ->
            {
                final int status = backend.clearQueue(id, cmd.word8());
                returnHeld(slot, q);
                yield resp.header(status);
            }
            case CMD_GET_PARAMS_EXT -> backend.getParams(id, cmd.word8(), resp);
            default -> resp.header(backend.setParams(id, cmd.word8(), cmd));
        };
    }

    private int queueResource(final DescriptorChain chain, final int id, final int slot, final int q)
    {
        final int resourceId = cmd.word12();
        final int key = key(slot, q, indexOf(slot, q, resourceId));
        if (heldHead[key] >= 0)
        {
            return refuse(chain, RESP_ERR_INVALID_PARAMETER, "queues resource "
                + Integer.toUnsignedString(resourceId) + ", which is queued");
        }
        final int numDataSizes = cmd.numDataSizes();
        for (int i = 0; i < numDataSizes; i++)
        {
            dataSizes[i] = cmd.dataSize(i);
        }
        // The chain must be one the device can hold, with room for the answer, before the back-end takes the buffer.
        if (chain.count() > MAX_HELD_DESCRIPTORS || chain.writableBytes() < RESOURCE_QUEUE_RESPONSE)
        {
            return refuse(chain, RESP_ERR_INVALID_PARAMETER, "queues resource "
                + Integer.toUnsignedString(resourceId) + " in a chain of " + chain.count() + " buffers with "
                + chain.writableBytes() + " writable bytes (at most " + MAX_HELD_DESCRIPTORS + ", at least "
                + RESOURCE_QUEUE_RESPONSE + ")");
        }
        final long timestamp = cmd.timestamp();
        // Held before the back-end sees it: it may report the buffer done during this very call (a node that had
        // it done at once), and the report then finds it held.
        if (null == heldChains[key])
        {
            heldChains[key] = new DescriptorChain(MAX_HELD_DESCRIPTORS);
        }
        heldChains[key].copyFrom(chain);
        heldHead[key] = chain.head();
        heldCount++;
        heldTimestamp[key] = timestamp;
        final int size = backend.queueResource(id, cmd.word8(), resourceId, timestamp, dataSizes, numDataSizes,
            resp);
        if (size != VideoBackend.HELD)
        {
            // Answered at once after all: not held (a report made meanwhile is void).
            heldCount -= heldHead[key] >= 0 ? 1 : 0;
            heldHead[key] = -1;
            ready[key] = false;
        }
        return size;
    }

    private int createStream(final DescriptorChain chain, final int id)
    {
        final int in = cmd.word8();
        final int out = cmd.word12();
        final int format = cmd.word16();
        if (!memType(in) || !memType(out) || !format(format))
        {
            return refuse(chain, RESP_ERR_INVALID_OPERATION, "creates a stream with memory types " + in + "/" + out
                + " and coded format 0x" + Integer.toHexString(format) + ", not all defined");
        }
        if (in != MEM_TYPE_GUEST_PAGES || out != MEM_TYPE_GUEST_PAGES)
        {
            return refuse(chain, RESP_ERR_INVALID_PARAMETER, "creates a stream with virtio objects, which the device"
                + " does not offer");
        }
        if (slotOf(id) >= 0)
        {
            return refuse(chain, RESP_ERR_INVALID_STREAM_ID, "creates stream " + Integer.toUnsignedString(id)
                + ", which is open");
        }
        int slot = -1;
        for (int i = 0; i < MAX_STREAMS && slot < 0; i++)
        {
            slot = streamOpen[i] ? -1 : i;
        }
        if (slot < 0)
        {
            return refuse(chain, RESP_ERR_OUT_OF_MEMORY, "creates a stream with all " + MAX_STREAMS + " open");
        }
        final int status = backend.createStream(id, in, out, format);
        if (status == RESP_OK_NODATA)
        {
            streamIds[slot] = id;
            streamOpen[slot] = true;
            resourceCount[slot][0] = 0;
            resourceCount[slot][1] = 0;
            LOG.log(Level.INFO, name + ": stream " + Integer.toUnsignedString(id) + " created");
        }
        return resp.header(status);
    }

    private int createResource(final DescriptorChain chain, final int id, final int slot, final int q,
        final ChainReader in)
    {
        final int resourceId = cmd.word12();
        final int planes = cmd.numPlanes();
        if (Integer.compareUnsigned(planes, Command.MAX_PLANES) > 0 || planes == 0)
        {
            return refuse(chain, RESP_ERR_INVALID_PARAMETER, "creates resource " + Integer.toUnsignedString(resourceId)
                + " with " + Integer.toUnsignedString(planes) + " planes (1 to 8)");
        }
        long entries = 0;
        final int[] perPlane = new int[planes];
        for (int p = 0; p < planes; p++)
        {
            entries += Integer.toUnsignedLong(cmd.numEntries(p));
            perPlane[p] = cmd.numEntries(p);
        }
        if (entries == 0 || entries > MAX_ENTRIES)
        {
            return refuse(chain, RESP_ERR_INVALID_PARAMETER, "creates resource " + Integer.toUnsignedString(resourceId)
                + " of " + entries + " memory entries (1 to " + MAX_ENTRIES + ")");
        }
        if (indexOf(slot, q, resourceId) >= 0)
        {
            return refuse(chain, RESP_ERR_INVALID_RESOURCE_ID, "creates resource "
                + Integer.toUnsignedString(resourceId) + ", which exists");
        }
        if (resourceCount[slot][q] == MAX_RESOURCES)
        {
            return refuse(chain, RESP_ERR_OUT_OF_MEMORY, "creates a resource with all " + MAX_RESOURCES + " in use");
        }
        // The memory entries follow the fixed part: the reader stands after the bytes copied into the scratch.
        final long[] addresses;
        final int[] lengths;
        try
        {
            in.rewind();
            in.skip(88);
            if (in.remaining() < entries * Command.MEM_ENTRY_SIZE)
            {
                return refuse(chain, RESP_ERR_INVALID_PARAMETER, "creates resource "
                    + Integer.toUnsignedString(resourceId) + " with " + in.remaining() / Command.MEM_ENTRY_SIZE
                    + " of its " + entries + " memory entries");
            }
            addresses = new long[(int)entries];
            lengths = new int[(int)entries];
            for (int e = 0; e < entries; e++)
            {
                final long addr = in.readLong();
                final long length = Integer.toUnsignedLong(in.readInt());
                in.readInt();
                addresses[e] = addr;
                lengths[e] = (int)length;
                if (length == 0 || !chain.memory().isValidRange(addr, length))
                {
                    return refuse(chain, RESP_ERR_INVALID_PARAMETER, "creates resource "
                        + Integer.toUnsignedString(resourceId) + " with memory entry " + e + " (0x"
                        + Long.toHexString(addr) + ", " + length + " bytes) outside guest RAM");
                }
            }
        }
        catch (final ChainAccessException ex)
        {
            return resp.header(RESP_ERR_INVALID_PARAMETER);
        }
        final int status = backend.createResource(id, cmd.word8(), resourceId,
            new VideoResource(planes, perPlane, addresses, lengths));
        if (status == RESP_OK_NODATA)
        {
            resources[slot][q][resourceCount[slot][q]++] = resourceId;
        }
        return resp.header(status);
    }

    private int indexOf(final int slot, final int q, final int resourceId)
    {
        for (int i = 0; i < resourceCount[slot][q]; i++)
        {
            if (resources[slot][q][i] == resourceId)
            {
                return i;
            }
        }
        return -1;
    }

    private int slotOf(final int id)
    {
        for (int i = 0; i < MAX_STREAMS; i++)
        {
            if (streamOpen[i] && streamIds[i] == id)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return the fixed size of command {@code type}, or -1 for a type the device does not know.
     */
    private static int size(final int type)
    {
        return switch (type)
        {
            case CMD_QUERY_CAPABILITY, CMD_RESOURCE_DESTROY_ALL, CMD_QUEUE_CLEAR, CMD_GET_PARAMS_EXT, CMD_GET_CONTROL
                -> 16;
            case CMD_QUERY_CONTROL -> 24;
            case CMD_STREAM_CREATE, CMD_RESOURCE_CREATE -> 88;
            case CMD_STREAM_DESTROY, CMD_STREAM_DRAIN -> 8;
            case CMD_RESOURCE_QUEUE -> 64;
            case CMD_SET_PARAMS_EXT -> 128;
            default -> -1;
        };
    }

    /**
     * @return 0 for the input queue, 1 for the output queue, -1 for anything else.
     */
    private static int queueType(final int queueType)
    {
        return queueType == QUEUE_TYPE_INPUT ? 0 : queueType == QUEUE_TYPE_OUTPUT ? 1 : -1;
    }

    private int badQueueType(final DescriptorChain chain)
    {
        return refuse(chain, RESP_ERR_INVALID_OPERATION, "names queue type 0x" + Integer.toHexString(cmd.word8()));
    }

    private static boolean memType(final int type)
    {
        return type == MEM_TYPE_GUEST_PAGES || type == MEM_TYPE_VIRTIO_OBJECT;
    }

    /**
     * @return whether {@code format} is a draft v3 format: raw 1 to 5 (ARGB8888, BGRA8888, NV12, YUV420, YVU420) or
     *     coded 0x1000 to 0x1006 (MPEG2, MPEG4, H264, HEVC, VP8, VP9, FWHT).
     */
    private static boolean format(final int format)
    {
        return format >= 1 && format <= 5 || format >= 0x1000 && format <= 0x1006;
    }

    private boolean control(final DescriptorChain chain, final int control)
    {
        if (control >= 1 && control <= 7)
        {
            return true;
        }
        refuse(chain, RESP_ERR_INVALID_OPERATION, "names control " + Integer.toUnsignedString(control));
        return false;
    }

    /**
     * @return the size of the error response {@code status}, logged.
     */
    private int refuse(final DescriptorChain chain, final int status, final String why)
    {
        refusals.refuse(chain, why);
        return resp.header(status);
    }

    @Override
    public void reset()
    {
        // The back-end first (it stops watching its descriptors), then the held commands, which go with the ring.
        for (int i = 0; i < MAX_STREAMS; i++)
        {
            if (streamOpen[i])
            {
                backend.destroyStream(streamIds[i]);
                streamOpen[i] = false;
            }
        }
        java.util.Arrays.fill(heldHead, -1);
        heldCount = 0;
        java.util.Arrays.fill(ready, false);
        readyCount = 0;
        readyFirst = 0;
    }

    @Override
    public void close()
    {
        backend.close();
    }
}
