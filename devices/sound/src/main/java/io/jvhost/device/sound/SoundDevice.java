package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.LongSupplier;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-snd (virtio ID 25), a drop-in for rust-vmm's vhost-device-sound: two jacks (line out, microphone), two PCM
 * streams (0 playback, 1 capture, one HDA function so Linux makes them one PCM device with both directions), one
 * channel map per stream; the same features and four queues of at most 64 entries as theirs, and the same 16-byte
 * configuration layout (theirs says 0 jacks and 1 channel map).
 * <pre>
 *  queue 0 control  JACK_INFO, JACK_REMAP, PCM_INFO, PCM_SET_PARAMS/PREPARE/START/STOP/RELEASE, CHMAP_INFO
 *  queue 1 event    XRUN notifications (buffers kept until there is something to say)
 *  queue 2 tx       playback messages: held until START, then consumed in real time, to the back-end
 *  queue 3 rx       capture messages: held until START, then filled in real time, from the back-end
 * </pre>
 * Pacing: a running stream completes a message when the stream's audio up to its end has played ({@link StreamClock}),
 * never earlier; a guest whose messages complete at once sees its hardware pointer overtake its application pointer
 * and fails with EPIPE. While a running stream holds messages, its queue is looked at again when the next one is
 * due anyway, so the driver is asked not to kick meanwhile ({@link io.jvhost.device.DeviceQueue#pollAfter}): the
 * worker wakes once per message completed, not once more per message sent. A running stream that has had nothing to
 * play (or nowhere to record) for a whole buffer's duration is an xrun: counted, logged and, when the driver enabled
 * {@link Snd#PCM_F_EVT_XRUNS}, sent as {@link Snd#EVT_PCM_XRUN}. All four queues run on one worker; per message
 * nothing is allocated.
 * <p>
 * This class is the virtio face (features, queues, configuration, lifecycle); the queues' work is in {@link
 * ControlRequests}, {@link PcmTransfers} and {@link SoundEvents}, over the streams' {@link PcmStream} state.
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

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SoundBackend backend;
    private final PcmStream[] streams = new PcmStream[STREAMS];
    private final ControlRequests control;
    private final SoundEvents events;
    private final PcmTransfers transfers;
    private volatile DeviceContext context;

    /**
     * @param clock nanosecond clock for pacing ({@code System::nanoTime}; tests pass their own).
     */
    public SoundDevice(final String name, final SoundBackend backend, final LongSupplier clock)
    {
        this.backend = backend;
        final byte[][] chmaps = new byte[CHMAPS][];
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
        control = new ControlRequests(name, streams, chmaps, backend, clock, this::wake);
        events = new SoundEvents(name, this::wake);
        transfers = new PcmTransfers(name, streams, backend, clock, events);
    }

    private void wake(final int queue)
    {
        final DeviceContext ctx = context;
        if (null != ctx)
        {
            ctx.wake(queue);
        }
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
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        config.set(LE32, 0, JACKS);
        config.set(LE32, 4, STREAMS);
        config.set(LE32, 8, CHMAPS);
        config.set(LE32, 12, 0);
        ConfigSpace.read(config, offset, dst);
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
        return transfers.refusedMessages();
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case Snd.CONTROL_QUEUE -> control.serve(queue);
            case Snd.EVENT_QUEUE -> events.serve(queue);
            case Snd.TX_QUEUE -> transfers.serve(queue, Snd.D_OUTPUT);
            case Snd.RX_QUEUE -> transfers.serve(queue, Snd.D_INPUT);
            default ->
            {
                // The transport never calls with another index.
            }
        }
    }

    // ---- lifecycle -----------------------------------------------------------------------------------------------

    /**
     * Held I/O messages go back on the ring untaken before its state is reported (see {@link PcmTransfers#stopping}):
     * the restarted ring reads them again and they play on. Control requests are answered at once and event buffers
     * are only taken when there is an event, so those queues hold nothing.
     */
    @Override
    public void queueStopping(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case Snd.TX_QUEUE -> transfers.stopping(queue, Snd.D_OUTPUT);
            case Snd.RX_QUEUE -> transfers.stopping(queue, Snd.D_INPUT);
            default ->
            {
                // Nothing held.
            }
        }
    }

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
        events.clear();
    }

    /**
     * Ends the back-end (files closed, host devices released).
     */
    public void close()
    {
        backend.close();
    }
}
