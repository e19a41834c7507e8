package io.jvhost.device.sound;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.LongSupplier;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.sound.wire.ChmapInfo;
import io.jvhost.device.sound.wire.JackInfo;
import io.jvhost.device.sound.wire.JackRemap;
import io.jvhost.device.sound.wire.PcmHeader;
import io.jvhost.device.sound.wire.PcmInfo;
import io.jvhost.device.sound.wire.PcmSetParams;
import io.jvhost.device.sound.wire.PcmStatus;
import io.jvhost.device.sound.wire.QueryInfo;
import io.jvhost.device.sound.wire.SoundEvent;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-snd (virtio ID 25), a drop-in for rust-vmm's vhost-device-sound: two jacks (line out, microphone), two PCM
 * streams (0 playback, 1 capture, one HDA function so Linux makes them one PCM device with both directions), one
 * channel map per stream; the same features, four queues of at most 64 entries and 16-byte configuration as theirs.
 * <pre>
 *  queue 0 control  JACK_INFO, JACK_REMAP, PCM_INFO, PCM_SET_PARAMS/PREPARE/START/STOP/RELEASE, CHMAP_INFO
 *  queue 1 event    XRUN notifications (buffers kept until there is something to say)
 *  queue 2 tx       playback messages: held until START, then consumed in real time, to the back-end
 *  queue 3 rx       capture messages: held until START, then filled in real time, from the back-end
 * </pre>
 * Pacing: a running stream completes a message when the stream's audio up to its end has played ({@link StreamClock}),
 * never earlier; a guest whose messages complete at once sees its hardware pointer overtake its application pointer
 * and fails with EPIPE. A running stream that has had nothing to play (or nowhere to record) for a whole buffer's
 * duration is an xrun: counted, logged and, when the driver enabled {@link Snd#PCM_F_EVT_XRUNS}, sent as
 * {@link Snd#EVT_PCM_XRUN}. All four queues run on one worker; per message nothing is allocated.
 */
public final class SoundDevice implements VirtioDevice
{
    /** As vhost-device-sound and QEMU's vhost-user-snd ({@code vq_size = 64}). */
    public static final int QUEUE_SIZE = 64;
    public static final int JACKS = 2;
    public static final int STREAMS = 2;
    public static final int CHMAPS = 2;
    /** {@code jacks, streams, chmaps, controls}: 4 x le32. */
    public static final int CONFIG_SIZE = 16;
    /** HDA pin default configuration of the line out (green 1/8" jack at the rear, association 1). */
    static final int LINE_OUT_DEFCONF = 0x0101_4010;
    /** HDA pin default configuration of the microphone (pink 1/8" jack at the rear, association 2). */
    static final int MIC_IN_DEFCONF = 0x01A1_9020;
    /** HDA pin capabilities: presence detect and output; presence detect and input. */
    static final int LINE_OUT_CAPS = 0x14;
    static final int MIC_IN_CAPS = 0x24;

    private static final System.Logger LOG = System.getLogger(SoundDevice.class.getName());
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The longest control request (SET_PARAMS, 24 bytes) with room to spare. */
    private static final int REQUEST_MAX = 32;
    /** A driver's item size beyond this is refused (ours are 24 and 32 bytes). */
    private static final int MAX_ITEM_SIZE = 1024;
    /** Bytes moved between guest memory and the back-end per call. */
    private static final int SCRATCH = 64 * 1024;
    private static final int EVENT_CAPACITY = 32;

    private final String name;
    private final SoundBackend backend;
    private final LongSupplier clock;
    private final PcmStream[] streams = new PcmStream[STREAMS];
    private final int[] jackDefconf = {LINE_OUT_DEFCONF, MIC_IN_DEFCONF};
    private final int[] jackCaps = {LINE_OUT_CAPS, MIC_IN_CAPS};
    private final byte[][] chmaps = new byte[CHMAPS][];

    private final MemorySegment request;
    private final MemorySegment item;
    private final MemorySegment statusBytes;
    private final MemorySegment eventBytes;
    private final MemorySegment scratch;
    private final QueryInfo queryInfo = new QueryInfo();
    private final PcmHeader pcmHeader = new PcmHeader();
    private final PcmSetParams setParams = new PcmSetParams();
    private final JackRemap jackRemap = new JackRemap();
    private final JackInfo jackInfo = new JackInfo();
    private final PcmInfo pcmInfo = new PcmInfo();
    private final ChmapInfo chmapInfo = new ChmapInfo();
    private final PcmStatus pcmStatus = new PcmStatus();
    private final SoundEvent soundEvent = new SoundEvent();
    private final HeldIo refused = new HeldIo(QUEUE_SIZE);

    private final int[] eventType = new int[EVENT_CAPACITY];
    private final int[] eventData = new int[EVENT_CAPACITY];
    private int eventHead;
    private int eventCount;
    private long eventsDropped;

    private volatile DeviceContext context;
    private long refusedMessages;
    private long faults;

    /**
     * @param clock nanosecond clock for pacing ({@code System::nanoTime}; tests pass their own).
     */
    public SoundDevice(final String name, final SoundBackend backend, final LongSupplier clock)
    {
        this.name = name;
        this.backend = backend;
        this.clock = clock;
        for (int i = 0; i < STREAMS; i++)
        {
            final int direction = i == 0 ? Snd.D_OUTPUT : Snd.D_INPUT;
            final StreamCaps caps = backend.caps(direction);
            if (caps.direction() != direction)
            {
                throw new IllegalArgumentException(backend.name() + " gave stream " + i + " the wrong direction");
            }
            streams[i] = new PcmStream(i, caps, QUEUE_SIZE, QUEUE_SIZE);
            chmaps[i] = positions(caps.channelsMin() == caps.channelsMax() ? caps.channelsMax() : 2);
        }
        final Arena arena = Arena.ofAuto();
        request = arena.allocate(REQUEST_MAX, 8);
        item = arena.allocate(64, 8);
        statusBytes = arena.allocate(PcmStatus.SIZE, 8);
        eventBytes = arena.allocate(SoundEvent.SIZE, 8);
        scratch = arena.allocate(SCRATCH, 64);
    }

    public SoundDevice(final String name, final SoundBackend backend)
    {
        this(name, backend, System::nanoTime);
    }

    /**
     * @return the channel positions of a stream with {@code channels} channels: mono, or ALSA's usual order (front
     *     left and right, rear left and right, centre, LFE), the rest unnamed.
     */
    static byte[] positions(final int channels)
    {
        if (channels == 1)
        {
            return new byte[] {Snd.CHMAP_MONO};
        }
        final byte[] order = {Snd.CHMAP_FL, Snd.CHMAP_FR, Snd.CHMAP_RL, Snd.CHMAP_RR, Snd.CHMAP_FC, Snd.CHMAP_LFE};
        final byte[] p = new byte[Math.min(channels, Snd.CHMAP_MAX_SIZE)];
        for (int i = 0; i < p.length; i++)
        {
            p[i] = i < order.length ? order[i] : Snd.CHMAP_NONE;
        }
        return p;
    }

    @Override
    public int deviceType()
    {
        return Snd.DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "sound";
    }

    @Override
    public int queueCount()
    {
        return 4;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.NOTIFY_ON_EMPTY)
            | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        config.set(LE32, 0, JACKS);
        config.set(LE32, 4, STREAMS);
        config.set(LE32, 8, CHMAPS);
        config.set(LE32, 12, 0);
        if (offset < 0 || offset + dst.byteSize() > CONFIG_SIZE)
        {
            throw new IndexOutOfBoundsException("config read at offset " + offset + " of " + dst.byteSize()
                + " bytes is outside the " + CONFIG_SIZE + "-byte configuration");
        }
        MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void attach(final DeviceContext ctx)
    {
        this.context = ctx;
    }

    /**
     * @return the stream's lifecycle state (for tests and logs).
     */
    public PcmState state(final int streamId)
    {
        return streams[streamId].state;
    }

    /**
     * @return payload bytes played or recorded on the stream since its last PREPARE.
     */
    public long bytes(final int streamId)
    {
        return streams[streamId].bytes;
    }

    /**
     * @return xruns the stream has had since the device was made.
     */
    public long xruns(final int streamId)
    {
        return streams[streamId].xruns;
    }

    /**
     * @return messages held by the stream, waiting for their time.
     */
    public int held(final int streamId)
    {
        return streams[streamId].held.size();
    }

    /**
     * @return I/O messages refused so far (bad header, stream, state or size).
     */
    public long refusedMessages()
    {
        return refusedMessages;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case Snd.CONTROL_QUEUE -> processControl(queue);
            case Snd.EVENT_QUEUE -> processEvents(queue);
            case Snd.TX_QUEUE -> processIo(queue, Snd.D_OUTPUT);
            case Snd.RX_QUEUE -> processIo(queue, Snd.D_INPUT);
            default ->
            {
                // The transport never calls with another index.
            }
        }
    }

    // ---- control queue -------------------------------------------------------------------------------------------

    private void processControl(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            if (chain.writableBytes() < 4)
            {
                LOG.log(Level.WARNING, name + ": control request " + chain.head() + " has " + chain.writableBytes()
                    + " writable bytes, no room for a status; returned unanswered");
                queue.complete(chain, 0);
                continue;
            }
            final int readable = (int)Math.min(chain.readableBytes(), REQUEST_MAX);
            request.fill((byte)0);
            long written;
            try
            {
                chain.reader().read(request, 0, readable);
                written = readable < 4 ? status(chain, Snd.S_BAD_MSG, "a request shorter than its 4-byte code ("
                    + readable + " bytes)") : control(chain, request.get(LE32, 0), readable);
            }
            catch (final ChainAccessException e)
            {
                LOG.log(Level.WARNING, name + ": control request " + chain.head() + " failed: " + e.getMessage());
                written = 0;
            }
            queue.complete(chain, written);
        }
    }

    /**
     * Answers one request.
     *
     * @return bytes written into the chain.
     */
    private long control(final DescriptorChain chain, final int code, final int readable) throws ChainAccessException
    {
        return switch (code)
        {
            case Snd.R_JACK_INFO, Snd.R_PCM_INFO, Snd.R_CHMAP_INFO -> queryInfo(chain, code, readable);
            case Snd.R_JACK_REMAP -> jackRemap(chain, readable);
            case Snd.R_PCM_SET_PARAMS, Snd.R_PCM_PREPARE, Snd.R_PCM_RELEASE, Snd.R_PCM_START, Snd.R_PCM_STOP ->
                pcmRequest(chain, code, readable);
            default -> status(chain, Snd.S_NOT_SUPP, "unknown request code " + Snd.requestName(code));
        };
    }

    /**
     * Writes a bare status; a refusal ({@code why} not null) is logged.
     */
    private long status(final DescriptorChain chain, final int status, final String why) throws ChainAccessException
    {
        if (null != why)
        {
            LOG.log(Level.WARNING, name + ": control request " + chain.head() + " answered " + Snd.statusName(status)
                + ": " + why);
        }
        chain.writer().writeInt(status);
        return 4;
    }

    private long queryInfo(final DescriptorChain chain, final int code, final int readable)
        throws ChainAccessException
    {
        final String what = Snd.requestName(code);
        if (readable < QueryInfo.SIZE)
        {
            return status(chain, Snd.S_BAD_MSG, what + " of " + readable + " bytes, needs " + QueryInfo.SIZE);
        }
        queryInfo.wrap(request);
        final long total = code == Snd.R_JACK_INFO ? JACKS : code == Snd.R_PCM_INFO ? STREAMS : CHMAPS;
        final int itemSize = code == Snd.R_PCM_INFO ? PcmInfo.SIZE : code == Snd.R_JACK_INFO ? JackInfo.SIZE
            : ChmapInfo.SIZE;
        final long start = queryInfo.startId();
        final long count = queryInfo.count();
        final long size = queryInfo.size();
        if (start > total || count > total - start)
        {
            return status(chain, Snd.S_BAD_MSG, what + " start_id " + start + " count " + count + " beyond the "
                + total + " there are");
        }
        if (size < itemSize || size > MAX_ITEM_SIZE)
        {
            return status(chain, Snd.S_BAD_MSG, what + " item size " + size + " outside " + itemSize + ".."
                + MAX_ITEM_SIZE);
        }
        if (4 + count * size > chain.writableBytes())
        {
            return status(chain, Snd.S_BAD_MSG, what + " of " + count + " items of " + size + " bytes does not fit"
                + " the response's " + chain.writableBytes() + " bytes");
        }
        chain.writer().writeInt(Snd.S_OK);
        for (long i = start; i < start + count; i++)
        {
            switch (code)
            {
                case Snd.R_JACK_INFO -> jackInfo.wrap(item).set(0, 1 << Snd.JACK_F_REMAP, jackDefconf[(int)i],
                    jackCaps[(int)i], true);
                case Snd.R_PCM_INFO ->
                {
                    final StreamCaps c = streams[(int)i].caps;
                    pcmInfo.wrap(item).set(0, c.features(), c.formats(), c.rates(), c.direction(), c.channelsMin(),
                        c.channelsMax());
                }
                default -> chmapInfo.wrap(item).set(0, streams[(int)i].direction(), chmaps[(int)i]);
            }
            chain.writer().write(item, 0, itemSize);
            chain.writer().fill(size - itemSize);
        }
        return 4 + count * size;
    }

    private long jackRemap(final DescriptorChain chain, final int readable) throws ChainAccessException
    {
        if (readable < JackRemap.SIZE)
        {
            return status(chain, Snd.S_BAD_MSG, "JACK_REMAP of " + readable + " bytes, needs " + JackRemap.SIZE);
        }
        jackRemap.wrap(request);
        final long jack = jackRemap.jackId();
        if (jack >= JACKS)
        {
            return status(chain, Snd.S_BAD_MSG, "JACK_REMAP of jack " + jack + ", there are " + JACKS);
        }
        if (jackRemap.association() > 15 || jackRemap.sequence() > 15)
        {
            return status(chain, Snd.S_BAD_MSG, "JACK_REMAP association " + jackRemap.association() + " sequence "
                + jackRemap.sequence() + " (each 0..15)");
        }
        jackDefconf[(int)jack] = jackDefconf[(int)jack] & ~0xFF | (int)jackRemap.association() << 4
            | (int)jackRemap.sequence();
        LOG.log(Level.INFO, name + ": jack " + jack + " remapped: association " + jackRemap.association()
            + ", sequence " + jackRemap.sequence());
        return status(chain, Snd.S_OK, null);
    }

    private long pcmRequest(final DescriptorChain chain, final int code, final int readable)
        throws ChainAccessException
    {
        final String what = Snd.requestName(code);
        final int needs = code == Snd.R_PCM_SET_PARAMS ? PcmSetParams.SIZE : PcmHeader.SIZE;
        if (readable < needs)
        {
            return status(chain, Snd.S_BAD_MSG, what + " of " + readable + " bytes, needs " + needs);
        }
        final long id = pcmHeader.wrap(request).streamId();
        if (id >= STREAMS)
        {
            return status(chain, Snd.S_BAD_MSG, what + " for stream " + id + ", there are " + STREAMS);
        }
        final PcmStream s = streams[(int)id];
        if (!s.state.accepts(code))
        {
            return status(chain, Snd.S_BAD_MSG, what + " for stream " + id + " in state " + s.state);
        }
        final long now = clock.getAsLong();
        switch (code)
        {
            case Snd.R_PCM_SET_PARAMS ->
            {
                setParams.wrap(request);
                final PcmParams p = new PcmParams(setParams.bufferBytes(), setParams.periodBytes(),
                    setParams.features(), setParams.channels(), setParams.format(), setParams.rate());
                final String wrong = s.caps.check(p);
                if (null != wrong)
                {
                    return status(chain, Snd.S_BAD_MSG, what + " for stream " + id + ": " + wrong);
                }
                if (s.state == PcmState.PREPARED)
                {
                    backend.release(s.id);
                    s.flushPending = true;
                    wake(s);
                }
                s.params = p;
                LOG.log(Level.INFO, name + ": stream " + id + " parameters: " + p);
            }
            case Snd.R_PCM_PREPARE ->
            {
                final String failed = backend.prepare(s.id, s.direction(), s.params);
                if (null != failed)
                {
                    return status(chain, Snd.S_IO_ERR, what + " for stream " + id + ": the " + backend.name()
                        + " back-end failed: " + failed);
                }
                if (!s.held.isEmpty())
                {
                    s.flushPending = true;
                    wake(s);
                }
                s.bytes = 0;
                s.xrunCounted = false;
            }
            case Snd.R_PCM_START ->
            {
                s.clock.start(now, s.params.byteRate());
                if (s.bytes == 0)
                {
                    s.startedNanos = now;
                }
                s.xrunCounted = false;
                backend.start(s.id);
                wake(s);
            }
            case Snd.R_PCM_STOP ->
            {
                backend.stop(s.id);
                LOG.log(Level.INFO, name + ": stream " + id + " stopped: " + s.bytes + " bytes ("
                    + s.bytes / Math.max(1, s.params.frameBytes()) + " frames) in "
                    + (s.lastNanos - s.startedNanos) / 1_000_000 + " ms since START, " + s.held.size() + " held");
            }
            default ->
            {
                backend.release(s.id);
                s.flushPending = true;
                wake(s);
            }
        }
        s.state = s.state.after(code);
        return status(chain, Snd.S_OK, null);
    }

    private void wake(final PcmStream s)
    {
        final DeviceContext ctx = context;
        if (null != ctx)
        {
            ctx.wake(s.direction() == Snd.D_OUTPUT ? Snd.TX_QUEUE : Snd.RX_QUEUE);
        }
    }

    // ---- event queue ---------------------------------------------------------------------------------------------

    private void processEvents(final DeviceQueue queue)
    {
        while (eventCount > 0)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            if (chain.writableBytes() < SoundEvent.SIZE)
            {
                LOG.log(Level.WARNING, name + ": event buffer " + chain.head() + " has " + chain.writableBytes()
                    + " writable bytes, an event needs " + SoundEvent.SIZE + "; returned unused");
                queue.complete(chain, 0);
                continue;
            }
            soundEvent.wrap(eventBytes).set(eventType[eventHead], eventData[eventHead]);
            try
            {
                chain.writer().write(eventBytes, 0, SoundEvent.SIZE);
            }
            catch (final ChainAccessException e)
            {
                LOG.log(Level.WARNING, name + ": event buffer " + chain.head() + " failed: " + e.getMessage());
                queue.complete(chain, 0);
                continue;
            }
            eventHead = (eventHead + 1) % EVENT_CAPACITY;
            eventCount--;
            queue.complete(chain, SoundEvent.SIZE);
        }
    }

    private void postEvent(final int type, final int data)
    {
        if (eventCount == EVENT_CAPACITY)
        {
            if (eventsDropped++ % 1000 == 0)
            {
                LOG.log(Level.WARNING, name + ": the driver takes no events; " + eventsDropped + " dropped");
            }
            return;
        }
        final int tail = (eventHead + eventCount) % EVENT_CAPACITY;
        eventType[tail] = type;
        eventData[tail] = data;
        eventCount++;
        final DeviceContext ctx = context;
        if (null != ctx)
        {
            ctx.wake(Snd.EVENT_QUEUE);
        }
    }

    // ---- tx and rx queues ----------------------------------------------------------------------------------------

    private void processIo(final DeviceQueue queue, final int direction)
    {
        final long now = clock.getAsLong();
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            accept(queue, chain, direction, now);
        }
        long wait = Long.MAX_VALUE;
        for (final PcmStream s : streams)
        {
            if (s.direction() == direction)
            {
                wait = Math.min(wait, serve(queue, s, now));
            }
        }
        if (wait != Long.MAX_VALUE)
        {
            queue.retryAfter(wait);
        }
    }

    /**
     * Checks a new message and holds it on its stream, or refuses it at once.
     */
    private void accept(final DeviceQueue queue, final DescriptorChain chain, final int direction, final long now)
    {
        if (chain.writableBytes() < PcmStatus.SIZE)
        {
            refuse(chain, "has " + chain.writableBytes() + " writable bytes, no room for the 8-byte status");
            queue.complete(chain, 0);
            return;
        }
        if (chain.readableBytes() < HeldIo.XFER_HEADER)
        {
            refuseWithStatus(queue, chain, "is shorter than its 4-byte header (" + chain.readableBytes() + " bytes)");
            return;
        }
        final long id;
        try
        {
            id = Integer.toUnsignedLong(chain.reader().readInt());
        }
        catch (final ChainAccessException e)
        {
            refuse(chain, "unreadable: " + e.getMessage());
            queue.complete(chain, 0);
            return;
        }
        if (id >= STREAMS || streams[(int)id].direction() != direction)
        {
            refuseWithStatus(queue, chain, "names stream " + id + ", not a " + (direction == Snd.D_OUTPUT
                ? "playback" : "capture") + " stream");
            return;
        }
        final PcmStream s = streams[(int)id];
        if (!s.state.takesIo())
        {
            refuseWithStatus(queue, chain, "for stream " + id + " in state " + s.state);
            return;
        }
        final long payload = direction == Snd.D_OUTPUT ? chain.readableBytes() - HeldIo.XFER_HEADER
            : chain.writableBytes() - PcmStatus.SIZE;
        if (payload > s.params.bufferBytes() || payload % s.params.frameBytes() != 0)
        {
            refuseWithStatus(queue, chain, "carries " + payload + " bytes for stream " + id + ", not whole frames of "
                + s.params.frameBytes() + " bytes within its buffer of " + s.params.bufferBytes());
            return;
        }
        if (s.held.isFull())
        {
            refuseWithStatus(queue, chain, "exceeds the " + QUEUE_SIZE + " messages stream " + id + " can hold");
            return;
        }
        if (s.state == PcmState.RUNNING && s.held.isEmpty())
        {
            // Ran dry for more than a period: the audio resumes now, not in the past (no burst to catch up). A
            // shorter lateness (the message was seen a little after its time) is made up for.
            if (now - s.clock.end() > s.clock.nanosOf(s.params.periodBytes()))
            {
                s.clock.resumeAfterGap(now);
            }
            s.xrunCounted = false;
        }
        s.held.add(chain, payload);
    }

    /**
     * Completes what is due on stream {@code s}.
     *
     * @return nanoseconds until something is due, or {@link Long#MAX_VALUE} for nothing.
     */
    private long serve(final DeviceQueue queue, final PcmStream s, final long now)
    {
        final GuestMemory memory = queue.memory();
        if (s.flushPending)
        {
            s.flushPending = false;
            while (!s.held.isEmpty())
            {
                complete(queue, memory, s, s.held.peek(), Snd.S_OK, false);
                s.held.remove();
            }
        }
        if (s.state != PcmState.RUNNING)
        {
            return Long.MAX_VALUE;
        }
        while (!s.held.isEmpty())
        {
            final HeldIo io = s.held.peek();
            final long due = s.clock.deadline(io.payload);
            if (due > now)
            {
                return due - now;
            }
            s.clock.consumed(io.payload);
            s.bytes += io.payload;
            s.lastNanos = now;
            s.held.remove();
            complete(queue, memory, s, io, Snd.S_OK, true);
        }
        if (s.xrunCounted)
        {
            return Long.MAX_VALUE;
        }
        final long xrunAt = s.clock.end() + s.clock.nanosOf(s.params.bufferBytes());
        if (now < xrunAt)
        {
            return xrunAt - now;
        }
        s.xrunCounted = true;
        s.xruns++;
        LOG.log(Level.WARNING, name + ": stream " + s.id + (s.direction() == Snd.D_OUTPUT ? " underrun" : " overrun")
            + ": no message for a whole buffer (" + s.params.bufferBytes() + " bytes); xrun " + s.xruns
            + (s.xrunEventsEnabled() ? ", the driver is told" : ""));
        if (s.xrunEventsEnabled())
        {
            postEvent(Snd.EVT_PCM_XRUN, s.id);
        }
        return Long.MAX_VALUE;
    }

    /**
     * Moves the message's audio (when {@code transfer}), writes its status and returns it to the driver. Still
     * reachable after {@link HeldQueue#remove()}: the ring slot is reused only by a later add.
     */
    private void complete(final DeviceQueue queue, final GuestMemory memory, final PcmStream s, final HeldIo io,
        final int status, final boolean transfer)
    {
        final boolean output = s.direction() == Snd.D_OUTPUT;
        long written = PcmStatus.SIZE;
        try
        {
            if (transfer)
            {
                for (long off = 0; off < io.payload; off += SCRATCH)
                {
                    final long n = Math.min(SCRATCH, io.payload - off);
                    if (output)
                    {
                        io.readFrames(memory, off, scratch, n);
                        backend.write(s.id, scratch, n);
                    }
                    else
                    {
                        backend.read(s.id, scratch, n);
                        io.writeFrames(memory, off, scratch, n);
                    }
                }
                if (!output)
                {
                    written += io.payload;
                }
            }
            pcmStatus.wrap(statusBytes).set(status, (int)Math.min(s.held.bytes(), Integer.MAX_VALUE));
            io.writeStatus(memory, statusBytes);
        }
        catch (final GuestMemoryException e)
        {
            if (faults++ % 1000 == 0)
            {
                LOG.log(Level.WARNING, name + ": stream " + s.id + " message " + io.chain.head()
                    + " is no longer in guest memory: " + e.getMessage() + " (" + faults + " so far)");
            }
            written = 0;
        }
        queue.complete(io.chain, written);
    }

    private void refuseWithStatus(final DeviceQueue queue, final DescriptorChain chain, final String why)
    {
        refuse(chain, why);
        refused.chain.copyFrom(chain);
        pcmStatus.wrap(statusBytes).set(Snd.S_BAD_MSG, 0);
        long written = PcmStatus.SIZE;
        try
        {
            refused.writeStatus(queue.memory(), statusBytes);
        }
        catch (final GuestMemoryException e)
        {
            written = 0;
        }
        queue.complete(chain, written);
    }

    private void refuse(final DescriptorChain chain, final String why)
    {
        refusedMessages++;
        if (refusedMessages <= 10 || refusedMessages % 1000 == 0)
        {
            LOG.log(Level.WARNING, name + ": I/O message " + chain.head() + " refused (BAD_MSG): " + why + " ("
                + refusedMessages + " so far)");
        }
    }

    // ---- lifecycle -----------------------------------------------------------------------------------------------

    @Override
    public void queueStopped(final int queue)
    {
        for (final PcmStream s : streams)
        {
            if ((queue == Snd.TX_QUEUE && s.direction() == Snd.D_OUTPUT)
                || (queue == Snd.RX_QUEUE && s.direction() == Snd.D_INPUT))
            {
                s.held.clear();
                s.flushPending = false;
            }
        }
    }

    @Override
    public void reset()
    {
        for (final PcmStream s : streams)
        {
            if (s.state != PcmState.IDLE)
            {
                backend.release(s.id);
            }
            s.reset();
        }
        eventHead = 0;
        eventCount = 0;
    }

    /**
     * Ends the back-end (files closed, host devices released).
     */
    public void close()
    {
        backend.close();
    }
}
