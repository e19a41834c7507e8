package io.jvhost.device.sound;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.sound.wire.ChmapInfo;
import io.jvhost.device.sound.wire.JackInfo;
import io.jvhost.device.sound.wire.JackRemap;
import io.jvhost.device.sound.wire.PcmHeader;
import io.jvhost.device.sound.wire.PcmInfo;
import io.jvhost.device.sound.wire.PcmSetParams;
import io.jvhost.device.sound.wire.QueryInfo;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * The control queue: JACK_INFO, JACK_REMAP, PCM_INFO, CHMAP_INFO and the PCM lifecycle requests, each checked
 * (lengths, ids, ranges, the stream's state) and answered at once with the spec's status. The jacks' configuration
 * lives here; the streams' lifecycle moves here, their I/O in {@link PcmTransfers}.
 */
final class ControlRequests
{
    /** HDA pin default configuration of the line out (green 1/8" jack at the rear, association 1). */
    static final int LINE_OUT_DEFCONF = 0x0101_4010;
    /** HDA pin default configuration of the microphone (pink 1/8" jack at the rear, association 2). */
    static final int MIC_IN_DEFCONF = 0x01A1_9020;
    /** HDA pin capabilities: presence detect and output; presence detect and input. */
    static final int LINE_OUT_CAPS = 0x14;
    static final int MIC_IN_CAPS = 0x24;

    private static final System.Logger LOG = System.getLogger(ControlRequests.class.getName());
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The longest control request (SET_PARAMS, 24 bytes) with room to spare. */
    private static final int REQUEST_MAX = 32;
    /** A driver's item size beyond this is refused (ours are 24 and 32 bytes). */
    private static final int MAX_ITEM_SIZE = 1024;

    private final String name;
    private final PcmStream[] streams;
    private final SoundBackend backend;
    private final LongSupplier clock;
    private final IntConsumer wakeQueue;
    private final int[] jackDefconf = {LINE_OUT_DEFCONF, MIC_IN_DEFCONF};
    private final int[] jackCaps = {LINE_OUT_CAPS, MIC_IN_CAPS};
    private final byte[][] chmaps;
    private final MemorySegment request;
    private final MemorySegment item;
    private final QueryInfo queryInfo = new QueryInfo();
    private final PcmHeader pcmHeader = new PcmHeader();
    private final PcmSetParams setParams = new PcmSetParams();
    private final JackRemap jackRemap = new JackRemap();
    private final JackInfo jackInfo = new JackInfo();
    private final PcmInfo pcmInfo = new PcmInfo();
    private final ChmapInfo chmapInfo = new ChmapInfo();

    /**
     * @param chmaps    each stream's channel positions.
     * @param wakeQueue asks for a queue to be served soon (START, STOP, RELEASE: the held messages' queue).
     */
    ControlRequests(final String name, final PcmStream[] streams, final byte[][] chmaps, final SoundBackend backend,
        final LongSupplier clock, final IntConsumer wakeQueue)
    {
        this.name = name;
        this.streams = streams;
        this.chmaps = chmaps;
        this.backend = backend;
        this.clock = clock;
        this.wakeQueue = wakeQueue;
        final Arena arena = Arena.ofAuto();
        request = arena.allocate(REQUEST_MAX, 8);
        item = arena.allocate(64, 8);
    }

    /**
     * Answers every request waiting on the control queue.
     */
    void serve(final DeviceQueue queue)
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
        final long total = code == Snd.R_JACK_INFO ? SoundDevice.JACKS : code == Snd.R_PCM_INFO ? SoundDevice.STREAMS : SoundDevice.CHMAPS;
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
        if (jack >= SoundDevice.JACKS)
        {
            return status(chain, Snd.S_BAD_MSG, "JACK_REMAP of jack " + jack + ", there are " + SoundDevice.JACKS);
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
        if (id >= SoundDevice.STREAMS)
        {
            return status(chain, Snd.S_BAD_MSG, what + " for stream " + id + ", there are " + SoundDevice.STREAMS);
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
                // While it ran, the driver added messages without a kick (PcmTransfers asks for none while the
                // stream holds messages): they are taken now, before a RELEASE could find them in the ring and
                // refuse them, and the queue asks for kicks again.
                wake(s);
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
        wakeQueue.accept(s.direction() == Snd.D_OUTPUT ? Snd.TX_QUEUE : Snd.RX_QUEUE);
    }
}
