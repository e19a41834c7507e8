package io.jvhost.device.input;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-input (virtio ID 18): a keyboard, pointer or any evdev-like device, independent of the transport.
 * <pre>
 * queue 0 eventq   device -> driver   each chain: one writable buffer the device fills with one event
 * queue 1 statusq  driver -> device   each chain: readable events (LED changes), answered with 0 bytes
 *
 * struct virtio_input_event (8 bytes)        struct virtio_input_config (136 bytes)
 *  0       2       4               8           0      1      2    3          8                    136
 *  +-------+-------+---------------+           +------+------+----+----------+--------------------+
 *  | le16  | le16  | le32 value    |           |select|subsel|size|reserved 5| union u[128]       |
 *  | type  | code  |               |           +------+------+----+----------+--------------------+
 *  +-------+-------+---------------+            driver writes select/subsel, then reads size and u
 * </pre>
 * <b>Config.</b> The driver writes {@code select} and {@code subsel} (SET_CONFIG; QEMU rewrites the whole 136 bytes
 * each time, Linux's driver changes one byte at a time) and reads back {@code size} and {@code u}, which
 * {@link InputCapabilities#configData} fills. Only bytes 0 and 1 are writable; writes elsewhere are ignored.
 * Config calls come from the transport's protocol thread.
 * <p>
 * <b>Events.</b> {@link #event} may be called from any thread and never blocks: events go into a bounded lock-free
 * {@link EventRing} (oldest dropped when full, whole reports first) and the event queue's worker is woken through
 * {@link DeviceContext#wake}, at most once until it has run. The worker writes each event into the next guest buffer
 * as one 8-byte store. Events wait in the ring while the guest has no buffers posted (Linux keeps at most 64, QEMU's
 * vhost-user-input gives it a queue of 4). Events queued before a driver's first start of the event queue after a
 * {@link #reset()} are discarded: a guest that just booted gets no stale keystrokes. A VM stop/cont (the queue
 * resumed, no reset) keeps them. Nothing is allocated per event.
 * <p>
 * <b>Status.</b> Events the guest sends on the status queue are counted, logged at debug level and passed to the
 * {@link StatusListener} (for a host device passed through: the LEDs are set on it).
 */
public final class InputDevice implements VirtioDevice, InputSink
{
    /** virtio device ID of an input device. */
    public static final int DEVICE_TYPE = 18;
    public static final int EVENT_QUEUE = 0;
    public static final int STATUS_QUEUE = 1;
    /** Largest queue size accepted (vhost-device-input's). */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** {@code sizeof(struct virtio_input_config)}. */
    public static final int CONFIG_SIZE = 136;
    /** {@code sizeof(struct virtio_input_event)}. */
    public static final int EVENT_SIZE = 8;
    /** Events buffered for the guest unless told otherwise. */
    public static final int DEFAULT_BUFFERED_EVENTS = 1024;

    private static final System.Logger LOG = System.getLogger(InputDevice.class.getName());
    private static final int CONFIG_SELECT = 0;
    private static final int CONFIG_SUBSEL = 1;
    private static final int CONFIG_SIZE_BYTE = 2;
    private static final int CONFIG_UNION = 8;

    private final String name;
    private final InputCapabilities capabilities;
    private final EventRing ring;
    private final StatusListener statusListener;
    private final AtomicBoolean wakeRequested = new AtomicBoolean();
    private volatile DeviceContext context;
    /** Set by the protocol thread when the event queue (re)starts fresh: the worker drops the event it carries. */
    private volatile boolean discardCarried;
    /** The event queue started since the last reset (protocol thread). */
    private volatile boolean eventQueueRan;

    // ---- Config: protocol thread, guarded by this. ----
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    private final MemorySegment union = config.asSlice(CONFIG_UNION, InputCapabilities.UNION_SIZE);
    private int select;
    private int subsel;

    // ---- Worker state. ----
    /** An event taken from the ring that found no usable guest buffer yet. */
    private long carried = EventRing.EMPTY;
    private volatile long delivered;
    private volatile long badEventBuffers;
    private volatile long statusEvents;
    private volatile long badStatusBuffers;

    /**
     * A device with the default buffer and no status listener (LED changes are only logged).
     */
    public InputDevice(final String name, final InputCapabilities capabilities)
    {
        this(name, capabilities, DEFAULT_BUFFERED_EVENTS, null);
    }

    /**
     * @param name           for logs, e.g. {@code input0}.
     * @param bufferedEvents events held while the guest takes none (a power of two, 2..2^20); older ones are dropped.
     * @param statusListener gets the guest's status events (LEDs), or null.
     */
    public InputDevice(final String name, final InputCapabilities capabilities, final int bufferedEvents,
        final StatusListener statusListener)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.capabilities = Objects.requireNonNull(capabilities, "capabilities");
        this.ring = new EventRing(bufferedEvents);
        this.statusListener = statusListener;
        synchronized (this)
        {
            refreshConfig();
        }
    }

    public InputCapabilities capabilities()
    {
        return capabilities;
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "input";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return MAX_QUEUE_SIZE;
    }

    /**
     * VERSION_1 | INDIRECT_DESC | EVENT_IDX, as vhost-device-input (the transport adds PROTOCOL_FEATURES).
     */
    @Override
    public long features()
    {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
    }

    @Override
    public void attach(final DeviceContext context)
    {
        wakeRequested.set(false);
        this.context = context;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Events in (any thread)

    /**
     * Queues one event for the guest. Any thread; never blocks; allocation-free.
     *
     * @throws IllegalArgumentException when the type is above EV_MAX or the code above 0xffff.
     */
    @Override
    public void event(final int type, final int code, final int value)
    {
        ring.offer(EventRing.pack(type, code, value));
        if (!wakeRequested.get() && wakeRequested.compareAndSet(false, true))
        {
            final DeviceContext c = context;
            if (null != c)
            {
                c.wake(EVENT_QUEUE);
            }
        }
    }

    /**
     * @return events written into guest buffers.
     */
    public long deliveredEvents()
    {
        return delivered;
    }

    /**
     * @return events dropped because the buffer was full (the guest took none for a while).
     */
    public long droppedEvents()
    {
        return ring.dropped();
    }

    /**
     * @return events waiting for guest buffers.
     */
    public int pendingEvents()
    {
        return ring.size() + (carried != EventRing.EMPTY ? 1 : 0);
    }

    /**
     * @return status events received from the guest.
     */
    public long statusEvents()
    {
        return statusEvents;
    }

    /**
     * @return event-queue chains returned unused because they had no room for an event.
     */
    public long badEventBuffers()
    {
        return badEventBuffers;
    }

    /**
     * @return status-queue chains that carried no whole event.
     */
    public long badStatusBuffers()
    {
        return badStatusBuffers;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Config space (protocol thread)

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public synchronized void readConfig(final int offset, final MemorySegment dst)
    {
        MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
    }

    /**
     * Takes {@code select} (byte 0) and {@code subsel} (byte 1) from whatever range is written; other bytes are
     * read-only and ignored.
     */
    @Override
    public synchronized void writeConfig(final int offset, final MemorySegment src)
    {
        boolean changed = false;
        for (long i = 0; i < src.byteSize(); i++)
        {
            final long at = offset + i;
            if (at == CONFIG_SELECT || at == CONFIG_SUBSEL)
            {
                final int b = src.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
                if (at == CONFIG_SELECT)
                {
                    changed |= b != select;
                    select = b;
                }
                else
                {
                    changed |= b != subsel;
                    subsel = b;
                }
            }
        }
        if (changed)
        {
            refreshConfig();
        }
    }

    private void refreshConfig()
    {
        config.fill((byte)0);
        config.set(ValueLayout.JAVA_BYTE, CONFIG_SELECT, (byte)select);
        config.set(ValueLayout.JAVA_BYTE, CONFIG_SUBSEL, (byte)subsel);
        final int size = capabilities.configData(select, subsel, union);
        config.set(ValueLayout.JAVA_BYTE, CONFIG_SIZE_BYTE, (byte)size);
        if (LOG.isLoggable(Level.DEBUG))
        {
            LOG.log(Level.DEBUG, name + ": config select 0x" + Integer.toHexString(select) + " subsel 0x"
                + Integer.toHexString(subsel) + " -> size " + size);
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Queues (worker)

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() == EVENT_QUEUE)
        {
            serveEvents(queue);
        }
        else if (queue.index() == STATUS_QUEUE)
        {
            serveStatus(queue);
        }
    }

    private void serveEvents(final DeviceQueue queue)
    {
        // Cleared before draining: an event offered from now on wakes the worker again.
        wakeRequested.set(false);
        if (discardCarried)
        {
            discardCarried = false;
            carried = EventRing.EMPTY;
        }
        while (true)
        {
            if (carried == EventRing.EMPTY)
            {
                carried = ring.poll();
                if (carried == EventRing.EMPTY)
                {
                    return;
                }
            }
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return; // the event waits for the guest's next buffer (its kick serves us again)
            }
            if (chain.writableBytes() < EVENT_SIZE)
            {
                badEventBuffer(chain);
                queue.complete(chain, 0);
                continue;
            }
            try
            {
                chain.writer().writeLong(carried);
            }
            catch (final ChainAccessException e)
            {
                badEventBuffer(chain); // cannot happen: 8 writable bytes were checked
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, EVENT_SIZE);
            carried = EventRing.EMPTY;
            delivered++;
        }
    }

    private void badEventBuffer(final DescriptorChain chain)
    {
        final long n = ++badEventBuffers;
        if (LogThrottle.due(n))
        {
            LOG.log(Level.WARNING, name + ": event buffer " + chain.head() + " has " + chain.writableBytes()
                + " writable bytes, an event needs " + EVENT_SIZE + "; returned unused (" + n + " so far)");
        }
    }

    private void serveStatus(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final ChainReader reader = chain.reader();
            if (reader.remaining() < EVENT_SIZE)
            {
                final long n = ++badStatusBuffers;
                if (LogThrottle.due(n))
                {
                    LOG.log(Level.WARNING, name + ": status buffer " + chain.head() + " has " + reader.remaining()
                        + " readable bytes, an event needs " + EVENT_SIZE + " (" + n + " so far)");
                }
            }
            try
            {
                while (reader.remaining() >= EVENT_SIZE)
                {
                    final int type = reader.readShort() & 0xFFFF;
                    final int code = reader.readShort() & 0xFFFF;
                    final int value = reader.readInt();
                    status(type, code, value);
                }
            }
            catch (final ChainAccessException e)
            {
                // Cannot happen: remaining() was checked; the chain is answered like any other.
            }
            queue.complete(chain, 0);
        }
    }

    private void status(final int type, final int code, final int value)
    {
        statusEvents++;
        if (LOG.isLoggable(Level.DEBUG))
        {
            LOG.log(Level.DEBUG, name + ": status from the guest: " + InputCodes.typeName(type) + " code " + code
                + " value " + value);
        }
        if (null != statusListener)
        {
            try
            {
                statusListener.status(type, code, value);
            }
            catch (final RuntimeException e)
            {
                LOG.log(Level.WARNING, name + ": status listener failed on " + InputCodes.typeName(type) + " code "
                    + code + " value " + value + ": " + e);
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------------
    // Lifecycle (protocol thread)

    /**
     * The event queue's first start after a reset means a driver that just initialised: events typed before it
     * existed are discarded. Later starts resume (VM stop/cont) and keep them.
     */
    @Override
    public void queueStarted(final int queue)
    {
        if (queue == EVENT_QUEUE)
        {
            wakeRequested.set(false);
            if (!eventQueueRan)
            {
                eventQueueRan = true;
                discardCarried = true;
                final int stale = ring.clear();
                if (stale > 0)
                {
                    LOG.log(Level.INFO, name + ": event queue started afresh, discarded " + stale
                        + " event(s) queued before the driver was ready");
                }
            }
        }
    }

    /**
     * Back to select 0 with no events pending (the front-end went away or reset the device).
     */
    @Override
    public void reset()
    {
        synchronized (this)
        {
            select = 0;
            subsel = 0;
            refreshConfig();
        }
        wakeRequested.set(false);
        discardCarried = true;
        eventQueueRan = false;
        ring.clear();
    }
}
