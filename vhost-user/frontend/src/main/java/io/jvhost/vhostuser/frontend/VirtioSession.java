package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.jvhost.os.NativeException;
import io.jvhost.vhostuser.protocol.ProtocolFeature;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A virtio device driven over vhost-user the way QEMU 10 drives it, in three phases:
 * <ol>
 * <li>{@link #init()} (device realize): GET_FEATURES; unless legacy and when bit 30 is offered GET_PROTOCOL_FEATURES,
 * SET_PROTOCOL_FEATURES; GET_QUEUE_NUM if MQ; GET_MAX_MEM_SLOTS if CONFIGURE_MEM_SLOTS; SET_BACKEND_REQ_FD if
 * BACKEND_REQ; SET_OWNER; GET_FEATURES; per queue SET_VRING_CALL and SET_VRING_ERR (optional).</li>
 * <li>{@link #start()} (DRIVER_OK): SET_FEATURES (the driver's features, plus bit 30 when protocol features are in
 * use); GET_STATUS/SET_STATUS(FEATURES_OK) if STATUS; SET_MEM_TABLE, or ADD_MEM_REG per region on the first start
 * when CONFIGURE_MEM_SLOTS is negotiated; per queue SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK,
 * SET_VRING_CALL; then SET_VRING_ENABLE 1 per queue when protocol features are in use (legacy: rings are enabled by
 * starting them); SET_STATUS(DRIVER_OK) if STATUS.</li>
 * <li>{@link #stop()} (reset / VM stop): SET_VRING_ENABLE 0 per queue (unless legacy), GET_VRING_BASE per queue,
 * SET_STATUS 0 if STATUS. A later {@link #start()} resumes each ring from the base GET_VRING_BASE returned (as after
 * QEMU's stop/cont), or from 0 after {@link #reset} (a guest reset) or {@link #resetQueues()}.</li>
 * </ol>
 * A guest reset is {@link #stop()}, {@link #reset(int)} (RESET_DEVICE, the driver's config reads), {@link #start()};
 * a VM stop/cont is {@link #stop()}, {@link #start()}. QEMU 10 sends no SET_STATUS to vhost-user-gpu, -input and -rng
 * (they leave vq_index_end 0): leave STATUS out of {@link Builder#protocolFeatures} to drive them exactly.
 * The session owns its queues and back-end channel; the front-end and the RAM stay the caller's.
 */
public final class VirtioSession implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VirtioSession.class.getName());

    /** virtio status bits. */
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;

    /** Protocol features this front-end implements, and asks for by default. */
    public static final long SUPPORTED_PROTOCOL_FEATURES = ProtocolFeature.bit(ProtocolFeature.MQ)
        | ProtocolFeature.bit(ProtocolFeature.REPLY_ACK) | ProtocolFeature.bit(ProtocolFeature.BACKEND_REQ)
        | ProtocolFeature.bit(ProtocolFeature.CONFIG) | ProtocolFeature.bit(ProtocolFeature.RESET_DEVICE)
        | ProtocolFeature.bit(ProtocolFeature.CONFIGURE_MEM_SLOTS) | ProtocolFeature.bit(ProtocolFeature.STATUS);

    /** By default the driver accepts every device-specific bit offered plus VERSION_1, INDIRECT_DESC, EVENT_IDX. */
    public static final long DEFAULT_DRIVER_FEATURES = 0xFF_FFFFL | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
        | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);

    /**
     * Session options.
     */
    public static final class Builder
    {
        private final VhostUserFrontend frontend;
        private final GuestRam ram;
        private int[] queueSizes = {256};
        private long driverFeatures = DEFAULT_DRIVER_FEATURES;
        private long protocolFeatures = SUPPORTED_PROTOCOL_FEATURES;
        private boolean legacy;
        private boolean addMemReg = true;
        private boolean initNotifiers = true;
        private int maxIndirect = FrontendQueue.DEFAULT_MAX_INDIRECT;

        private Builder(final VhostUserFrontend frontend, final GuestRam ram)
        {
            this.frontend = frontend;
            this.ram = ram;
        }

        /**
         * {@code count} queues of {@code size} entries each. Default: one queue of 256.
         */
        public Builder queues(final int count, final int size)
        {
            final int[] sizes = new int[count];
            Arrays.fill(sizes, size);
            return queueSizes(sizes);
        }

        /**
         * One queue per entry, of that size.
         */
        public Builder queueSizes(final int... sizes)
        {
            if (sizes.length == 0)
            {
                throw new IllegalArgumentException("at least one queue");
            }
            this.queueSizes = sizes.clone();
            return this;
        }

        /**
         * The virtio features the driver accepts when offered (SET_FEATURES = offered ∩ these). Clear
         * {@link VirtioFeatures#RING_EVENT_IDX} or {@link VirtioFeatures#RING_INDIRECT_DESC} here to run without them.
         */
        public Builder driverFeatures(final long features)
        {
            this.driverFeatures = features;
            return this;
        }

        /**
         * The protocol features the front-end will negotiate when offered (a subset of
         * {@link #SUPPORTED_PROTOCOL_FEATURES}).
         */
        public Builder protocolFeatures(final long features)
        {
            this.protocolFeatures = features;
            return this;
        }

        /**
         * Legacy: never negotiate VHOST_USER_F_PROTOCOL_FEATURES (no protocol features at all, no
         * SET_VRING_ENABLE: rings are enabled by starting them, as with QEMU 7.0/7.1).
         */
        public Builder legacy(final boolean legacyMode)
        {
            this.legacy = legacyMode;
            return this;
        }

        /**
         * With true (the default, as QEMU does) CONFIGURE_MEM_SLOTS is negotiated when offered and memory announced
         * with one ADD_MEM_REG per region; with false it is not negotiated and memory goes with SET_MEM_TABLE.
         */
        public Builder addMemReg(final boolean useAddMemReg)
        {
            this.addMemReg = useAddMemReg;
            return this;
        }

        /**
         * With true (the default, as QEMU does) {@link #init()} sends SET_VRING_CALL and SET_VRING_ERR per queue.
         */
        public Builder initNotifiers(final boolean send)
        {
            this.initNotifiers = send;
            return this;
        }

        /**
         * Entries per indirect table in each queue's pool. Default {@value FrontendQueue#DEFAULT_MAX_INDIRECT}.
         */
        public Builder maxIndirect(final int entries)
        {
            this.maxIndirect = entries;
            return this;
        }

        /**
         * Places the queues in RAM (nothing is sent yet).
         */
        public VirtioSession build() throws NativeException
        {
            return new VirtioSession(this);
        }
    }

    private final VhostUserFrontend frontend;
    private final GuestRam ram;
    private final Builder options;
    private final FrontendQueue[] queues;
    private final int[] bases;
    private BackendChannel backendChannel;
    private long offeredFeatures;
    private long offeredProtocolFeatures;
    private long protocolFeatures;
    private long features;
    private long queueNum = -1;
    private long maxMemSlots = -1;
    private boolean initialised;
    private boolean started;
    private boolean memoryAdded;

    private VirtioSession(final Builder b) throws NativeException
    {
        this.frontend = b.frontend;
        this.ram = b.ram;
        this.options = b;
        this.queues = new FrontendQueue[b.queueSizes.length];
        this.bases = new int[queues.length];
        try
        {
            for (int i = 0; i < queues.length; i++)
            {
                queues[i] = new FrontendQueue(ram, i, b.queueSizes[i], b.maxIndirect);
            }
        }
        catch (final NativeException | RuntimeException e)
        {
            closeQueues();
            throw e;
        }
    }

    /**
     * @return options for a session on {@code frontend} with guest RAM {@code ram}.
     */
    public static Builder builder(final VhostUserFrontend frontend, final GuestRam ram)
    {
        return new Builder(frontend, ram);
    }

    /**
     * Negotiates and takes ownership (QEMU's device realize). Called by {@link #start()} if not done yet.
     */
    public VirtioSession init() throws IOException
    {
        if (initialised)
        {
            return this;
        }
        offeredFeatures = frontend.getFeatures();
        protocolFeatures = 0;
        if (!options.legacy && VirtioFeatures.has(offeredFeatures, VirtioFeatures.PROTOCOL_FEATURES))
        {
            offeredProtocolFeatures = frontend.getProtocolFeatures();
            long wanted = options.protocolFeatures & SUPPORTED_PROTOCOL_FEATURES;
            if (!options.addMemReg)
            {
                wanted &= ~ProtocolFeature.bit(ProtocolFeature.CONFIGURE_MEM_SLOTS);
            }
            protocolFeatures = offeredProtocolFeatures & wanted;
            frontend.setProtocolFeatures(protocolFeatures);
            if (hasProtocol(ProtocolFeature.MQ))
            {
                queueNum = frontend.getQueueNum();
                if (queueNum < queues.length)
                {
                    throw new IOException("back-end has " + queueNum + " queues, the session needs " + queues.length);
                }
            }
            if (hasProtocol(ProtocolFeature.CONFIGURE_MEM_SLOTS))
            {
                maxMemSlots = frontend.getMaxMemSlots();
                if (maxMemSlots < ram.regionCount())
                {
                    throw new IOException("back-end has " + maxMemSlots + " memory slots, RAM has "
                        + ram.regionCount() + " regions");
                }
            }
            if (hasProtocol(ProtocolFeature.BACKEND_REQ))
            {
                backendChannel = BackendChannel.open(frontend);
            }
        }
        frontend.setOwner();
        offeredFeatures = frontend.getFeatures();
        if (options.initNotifiers)
        {
            for (final FrontendQueue q : queues)
            {
                frontend.setVringCall(q.index(), q.callFd());
                frontend.setVringErr(q.index(), q.errFd());
            }
        }
        initialised = true;
        LOG.log(Level.DEBUG, "vhost-user session initialised: features offered 0x" + Long.toHexString(offeredFeatures)
            + ", protocol features 0x" + Long.toHexString(protocolFeatures));
        return this;
    }

    /**
     * Starts the device (QEMU's DRIVER_OK path). Each ring resumes from its base: 0 at first, then what the last
     * {@link #stop()} returned, unless {@link #resetQueues()} ran in between.
     */
    public VirtioSession start() throws IOException
    {
        if (started)
        {
            throw new IllegalStateException("session already started");
        }
        init();
        final boolean protocol = protocolFeaturesInUse();
        features = offeredFeatures & options.driverFeatures
            & ~VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES);
        frontend.setFeatures(features | (protocol ? VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES) : 0));
        if (hasProtocol(ProtocolFeature.STATUS))
        {
            addStatus(STATUS_FEATURES_OK);
        }
        if (hasProtocol(ProtocolFeature.CONFIGURE_MEM_SLOTS))
        {
            if (!memoryAdded)
            {
                for (int i = 0; i < ram.regionCount(); i++)
                {
                    frontend.addMemReg(ram, i);
                }
                memoryAdded = true;
            }
        }
        else
        {
            frontend.setMemTable(ram);
        }
        final boolean eventIdx = VirtioFeatures.has(features, VirtioFeatures.RING_EVENT_IDX);
        for (final FrontendQueue q : queues)
        {
            q.setEventIdx(eventIdx);
            q.configure(frontend, bases[q.index()]);
        }
        if (protocol)
        {
            for (final FrontendQueue q : queues)
            {
                frontend.setVringEnable(q.index(), true);
            }
        }
        if (hasProtocol(ProtocolFeature.STATUS))
        {
            addStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        }
        started = true;
        return this;
    }

    private void addStatus(final int bits) throws FrontendException
    {
        final int current = frontend.getStatus();
        if ((current & bits) != bits)
        {
            frontend.setStatus(current | bits);
        }
    }

    /**
     * Stops the device: disables (unless legacy) and stops every ring.
     *
     * @return the base GET_VRING_BASE returned for each queue (a copy).
     */
    public int[] stop() throws IOException
    {
        if (!started)
        {
            throw new IllegalStateException("session not started");
        }
        started = false;
        if (protocolFeaturesInUse())
        {
            for (final FrontendQueue q : queues)
            {
                frontend.setVringEnable(q.index(), false);
            }
        }
        for (final FrontendQueue q : queues)
        {
            bases[q.index()] = frontend.getVringBase(q.index());
        }
        if (hasProtocol(ProtocolFeature.STATUS))
        {
            frontend.setStatus(0);
        }
        return bases.clone();
    }

    /**
     * A guest reset of the stopped device as QEMU 10 sends it: RESET_DEVICE (from QEMU's virtio_reset, when
     * negotiated; QEMU before 9.1 never sent it), every ring re-initialised by the driver, then the driver's probe
     * reading {@code configBytes} of config (QEMU forwards each read as GET_CONFIG; skipped when 0 or CONFIG is not
     * negotiated). The next {@link #start()} begins at base 0.
     */
    public void reset(final int configBytes) throws FrontendException
    {
        if (started)
        {
            throw new IllegalStateException("stop the session first");
        }
        if (hasProtocol(ProtocolFeature.RESET_DEVICE))
        {
            frontend.resetDevice();
        }
        resetQueues();
        if (configBytes > 0 && hasProtocol(ProtocolFeature.CONFIG))
        {
            frontend.getConfig(0, configBytes);
        }
    }

    /**
     * Re-initialises every ring as a driver does after a reset, telling the back-end nothing: the next
     * {@link #start()} begins at base 0.
     */
    public void resetQueues()
    {
        resetQueues(0);
    }

    /**
     * Like {@link #resetQueues()}, but every ring as a driver leaves it after {@code startIndex} buffers, all used
     * (avail and used index at {@code startIndex} mod 2^16): the next {@link #start()} begins there. Lets tests reach
     * the 16-bit wrap-around without 65,536 requests.
     */
    public void resetQueues(final int startIndex)
    {
        if (started)
        {
            throw new IllegalStateException("stop the session first");
        }
        for (final FrontendQueue q : queues)
        {
            q.reset(startIndex);
        }
        Arrays.fill(bases, startIndex & 0xFFFF);
    }

    private boolean hasProtocol(final int feature)
    {
        return ProtocolFeature.has(protocolFeatures, feature);
    }

    /**
     * @return true when VHOST_USER_F_PROTOCOL_FEATURES is (or will be) acked in SET_FEATURES.
     */
    public boolean protocolFeaturesInUse()
    {
        return !options.legacy && VirtioFeatures.has(offeredFeatures, VirtioFeatures.PROTOCOL_FEATURES);
    }

    public VhostUserFrontend frontend()
    {
        return frontend;
    }

    public GuestRam ram()
    {
        return ram;
    }

    public FrontendQueue queue(final int index)
    {
        return queues[index];
    }

    public List<FrontendQueue> queues()
    {
        return List.of(queues);
    }

    public int queueCount()
    {
        return queues.length;
    }

    /**
     * What a VMM does when the back-end says its config changed: waits until {@code count} CONFIG_CHANGE_MSGs have
     * arrived on the back-end channel, then re-reads the config (GET_CONFIG, on the caller's thread), as the guest's
     * driver does after the config interrupt.
     *
     * @return the config's first {@code size} bytes.
     * @throws IOException when no channel was negotiated, or no change arrived within {@code timeout}.
     */
    public byte[] awaitConfigChange(final long count, final Duration timeout, final int size)
        throws IOException, InterruptedException
    {
        if (null == backendChannel)
        {
            throw new IOException("no back-end channel: BACKEND_REQ was not negotiated");
        }
        if (!backendChannel.awaitConfigChanges(count, timeout.toMillis()))
        {
            throw new IOException("no config change " + count + " within " + timeout + " (" + backendChannel
                .configChanges() + " arrived)");
        }
        return frontend.getConfig(0, size);
    }

    /**
     * @return the back-end request channel, or null when BACKEND_REQ was not negotiated.
     */
    public BackendChannel backendChannel()
    {
        return backendChannel;
    }

    /**
     * @return the virtio features GET_FEATURES offered.
     */
    public long offeredFeatures()
    {
        return offeredFeatures;
    }

    /**
     * @return the protocol features GET_PROTOCOL_FEATURES offered (0 in legacy mode).
     */
    public long offeredProtocolFeatures()
    {
        return offeredProtocolFeatures;
    }

    /**
     * @return the protocol features negotiated.
     */
    public long protocolFeatures()
    {
        return protocolFeatures;
    }

    /**
     * @return the virtio features the driver accepted at the last start (without bit 30).
     */
    public long features()
    {
        return features;
    }

    /**
     * @return GET_QUEUE_NUM's answer, or -1 when MQ was not negotiated.
     */
    public long queueNum()
    {
        return queueNum;
    }

    /**
     * @return GET_MAX_MEM_SLOTS's answer, or -1 when CONFIGURE_MEM_SLOTS was not negotiated.
     */
    public long maxMemSlots()
    {
        return maxMemSlots;
    }

    public boolean isStarted()
    {
        return started;
    }

    /**
     * Closes the queues' eventfds and the back-end channel. Does not talk to the back-end: close the front-end (or
     * {@link #stop()} first) to end the device.
     */
    @Override
    public void close()
    {
        closeQueues();
        if (null != backendChannel)
        {
            backendChannel.close();
            backendChannel = null;
        }
    }

    private void closeQueues()
    {
        final List<RuntimeException> failures = new ArrayList<>();
        for (final FrontendQueue q : queues)
        {
            if (null != q)
            {
                try
                {
                    q.close();
                }
                catch (final RuntimeException e)
                {
                    failures.add(e);
                }
            }
        }
        if (!failures.isEmpty())
        {
            throw failures.getFirst();
        }
    }
}
