package io.jvhost.device.console;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.FdWatch;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-console (virtio ID 3) with {@code VIRTIO_CONSOLE_F_MULTIPORT} and one port, a console (Linux's
 * {@code /dev/hvc0}), whose host side is a {@link ConsoleBackend}: the queues and configuration
 * vhost-device-console offers, so QEMU's generic {@code vhost-user-test-device-pci,virtio-id=3,num_vqs=4,
 * config_size=12} fronts it.
 * <pre>
 *  queue 0 receiveq  (port 0, host to guest)   backend.read  --> guest buffer      (only while buffers wait)
 *  queue 1 transmitq (port 0, guest to host)   guest buffer  --> backend.write     (held until all taken)
 *  queue 2 control receiveq  (device to driver) MultiportControl.writeNext
 *  queue 3 control transmitq (driver to device) MultiportControl.received
 * </pre>
 * Flow control both ways, nothing buffered in between: host input is read only into a guest buffer that is waiting
 * for it, straight into guest memory; a transmit buffer is completed only once the host side took all its bytes, so a
 * slow reader slows the guest's writer (Linux's hvc waits for each buffer) instead of filling the back-end's memory.
 * Without a host side (no TCP client) the guest's output is discarded, as a serial line nobody listens to.
 * <p>
 * All four queues share one worker, which also watches the back-end ({@link ConsoleBackend#pollFd()}), so the
 * data path needs no locks; the monitor only orders it against the protocol thread's start, stop and reset.
 * Allocation-free per request.
 * <pre>
 * struct virtio_console_config (12 bytes, little-endian)
 *  0        2        4                  8                  12
 *  +--------+--------+------------------+------------------+
 *  | cols   | rows   | max_nr_ports u32 | emerg_wr u32     |
 *  +--------+--------+------------------+------------------+
 * </pre>
 */
public final class ConsoleDevice implements VirtioDevice
{
    /** virtio device ID of the console. */
    public static final int DEVICE_TYPE = 3;
    /** VIRTIO_CONSOLE_F_MULTIPORT. */
    public static final int F_MULTIPORT = 1;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int CONTROL_RX = 2;
    public static final int CONTROL_TX = 3;
    public static final int CONFIG_SIZE = 12;
    /** vhost-device-console's default --max-queue-size. */
    public static final int DEFAULT_QUEUE_SIZE = 128;
    /** The name port 0 gets (PORT_NAME; Linux shows it in /sys/class/virtio-ports/vport*p0/name). */
    public static final String PORT_NAME = "org.jvhost.console.0";
    /** Reported columns and rows; the driver reads them only with VIRTIO_CONSOLE_F_SIZE, which is not offered. */
    static final int COLS = 80;
    static final int ROWS = 24;

    private static final System.Logger LOG = System.getLogger(ConsoleDevice.class.getName());
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final String name;
    private final ConsoleBackend backend;
    private final int maxQueueSize;
    private final MultiportControl control;
    private final HeldOutput output;
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    private final ChainWriter.Transfer fromBackend;
    private DeviceContext context;
    private FdWatch watch;
    private boolean multiport;
    private boolean lastConnected;
    private long bytesToGuest;
    private long bytesFromGuest;
    private long badChains;

    /**
     * @param maxQueueSize the largest ring the driver may use (a power of two, 1..32768).
     */
    public ConsoleDevice(final String name, final ConsoleBackend backend, final int maxQueueSize)
    {
        if (maxQueueSize < 1 || maxQueueSize > 32768 || Integer.bitCount(maxQueueSize) != 1)
        {
            throw new IllegalArgumentException("max queue size must be a power of two in 1..32768, got "
                + maxQueueSize);
        }
        this.name = name;
        this.backend = backend;
        this.maxQueueSize = maxQueueSize;
        this.control = new MultiportControl(name, new String[] {PORT_NAME}, new boolean[] {true});
        this.output = new HeldOutput(maxQueueSize);
        this.fromBackend = backend::read;
        config.set(U16, 0, (short)COLS);
        config.set(U16, 2, (short)ROWS);
        config.set(U32, 4, control.ports());
        config.set(U32, 8, 0);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "console";
    }

    @Override
    public int queueCount()
    {
        return 4;
    }

    @Override
    public int maxQueueSize()
    {
        return maxQueueSize;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE | VirtioFeatures.bit(F_MULTIPORT);
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
        // emerg_wr is writable only with VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered; the rest is read-only.
        LOG.log(Level.WARNING, name + ": config write of " + src.byteSize() + " bytes at offset " + offset
            + " ignored: the console's configuration is read-only");
    }

    @Override
    public synchronized void attach(final DeviceContext newContext)
    {
        this.context = newContext;
    }

    @Override
    public synchronized void featuresAcked(final long features)
    {
        multiport = VirtioFeatures.has(features, F_MULTIPORT);
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
            final FdWatch w = c.watch(RX, backend.pollFd(), this::backendReady);
            synchronized (this)
            {
                if (null == watch && c == context)
                {
                    watch = w;
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
     * On the worker: the back-end's descriptor is ready. Input is read when the worker serves the receive queue right
     * after this; output and connection changes wake the other queues.
     */
    private void backendReady()
    {
        final int ready = backend.poll();
        final DeviceContext c;
        final boolean connectionChanged;
        synchronized (this)
        {
            c = context;
            connectionChanged = noteConnection();
        }
        if (null != c)
        {
            if ((ready & ConsoleBackend.OUTPUT) != 0 || connectionChanged)
            {
                c.wake(TX);
            }
            if (connectionChanged)
            {
                c.wake(CONTROL_RX);
            }
        }
    }

    /**
     * @return true when the host side connected or left since last asked (the ports then owe a PORT_OPEN).
     */
    private boolean noteConnection()
    {
        final boolean now = backend.connected();
        if (now == lastConnected)
        {
            return false;
        }
        lastConnected = now;
        control.hostConnected(now);
        return true;
    }

    @Override
    public synchronized void processQueue(final DeviceQueue queue)
    {
        if (noteConnection() && null != context)
        {
            context.wake(CONTROL_RX);
        }
        switch (queue.index())
        {
            case RX -> receive(queue);
            case TX -> transmit(queue);
            case CONTROL_RX -> sendControl(queue);
            case CONTROL_TX -> receiveControl(queue);
            default -> throw new IllegalStateException("no queue " + queue.index());
        }
    }

    /**
     * Host to guest: only when input waits and a guest buffer does, straight into the buffer.
     */
    private void receive(final DeviceQueue queue)
    {
        while (true)
        {
            if (backend.readable() <= 0)
            {
                backend.wantInput(true);
                return;
            }
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                backend.wantInput(false);
                return;
            }
            if (chain.writableBytes() == 0)
            {
                bad(chain, "receive buffer with no device-writable part");
                queue.complete(chain, 0);
                continue;
            }
            final long n = Math.max(0, chain.writer().transferFrom(fromBackend, chain.writableBytes()));
            bytesToGuest += n;
            queue.complete(chain, n);
            if (noteConnection() && null != context)
            {
                context.wake(CONTROL_RX);
            }
        }
    }

    /**
     * Guest to host: each buffer is held until the host side took all of it.
     */
    private void transmit(final DeviceQueue queue)
    {
        while (true)
        {
            if (!output.isHeld())
            {
                final DescriptorChain chain = queue.next();
                if (null == chain)
                {
                    return;
                }
                if (chain.count() > maxQueueSize)
                {
                    // Cannot happen with the vhost-user transport (its chains are at most the queue size long).
                    bad(chain, "transmit chain of " + chain.count() + " buffers");
                    queue.complete(chain, 0);
                    continue;
                }
                output.hold(chain);
                bytesFromGuest += chain.readableBytes();
            }
            final int state = output.drainTo(queue.memory(), backend);
            if (noteConnection() && null != context)
            {
                context.wake(CONTROL_RX);
            }
            if (state == HeldOutput.BLOCKED)
            {
                return;
            }
            if (state == HeldOutput.FAULT)
            {
                bad(output.chain(), "transmit buffer at 0x" + Long.toHexString(output.faultAddress())
                    + " no longer in guest memory; the rest of it is dropped");
            }
            // Nothing written into a transmit buffer: the used length is 0.
            queue.complete(output.chain(), 0);
            output.release();
        }
    }

    /**
     * The transmit queue stops (VM stop): a buffer held because the host side stopped taking bytes goes back to the
     * driver now, after one more offer of its bytes; what the host side still did not take is dropped, one log line.
     * Receive and control buffers are only taken when there is something to put in them: nothing else is held.
     */
    @Override
    public synchronized void queueStopping(final DeviceQueue queue)
    {
        if (queue.index() != TX || !output.isHeld())
        {
            return;
        }
        final int state = output.drainTo(queue.memory(), backend);
        if (state != HeldOutput.DONE)
        {
            LOG.log(Level.WARNING, name + ": transmit buffer " + output.chain().head() + " returned as the queue stops;"
                + " the bytes the host side had not taken are dropped");
        }
        queue.complete(output.chain(), 0);
        output.release();
    }

    private void sendControl(final DeviceQueue queue)
    {
        while (control.hasOwed())
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            queue.complete(chain, Math.max(0, control.writeNext(chain.writer())));
        }
    }

    private void receiveControl(final DeviceQueue queue)
    {
        while (true)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                break;
            }
            final ChainReader reader = chain.reader();
            final long length = reader.remaining();
            int id = 0;
            int event = 0;
            int value = 0;
            if (length >= MultiportControl.HEADER_SIZE)
            {
                try
                {
                    id = reader.readInt();
                    event = Short.toUnsignedInt(reader.readShort());
                    value = Short.toUnsignedInt(reader.readShort());
                }
                catch (final ChainAccessException e)
                {
                    throw new IllegalStateException("checked length was not there", e);
                }
            }
            control.received(length, id, event, value);
            queue.complete(chain, 0);
        }
        if (control.hasOwed() && null != context)
        {
            context.wake(CONTROL_RX);
        }
    }

    private void bad(final DescriptorChain chain, final String what)
    {
        if (LogThrottle.due(++badChains))
        {
            LOG.log(Level.WARNING, name + ": " + what + " (chain head " + chain.head() + "; " + badChains
                + " bad so far)");
        }
    }

    /**
     * @return true when the guest has port {@code port} open.
     */
    public synchronized boolean portOpen(final int port)
    {
        return control.guestOpen(port);
    }

    /**
     * @return true once the driver set port {@code port} up (PORT_READY), or without multiport once it drives it.
     */
    public synchronized boolean portReady(final int port)
    {
        return control.portReady(port);
    }

    /**
     * @return true when the driver accepted VIRTIO_CONSOLE_F_MULTIPORT.
     */
    public synchronized boolean multiport()
    {
        return multiport;
    }

    /**
     * @return true while a transmit buffer waits for the host side to take the rest of it.
     */
    public synchronized boolean holdingOutput()
    {
        return output.isHeld();
    }

    /**
     * @return host bytes delivered into guest buffers.
     */
    public synchronized long bytesToGuest()
    {
        return bytesToGuest;
    }

    /**
     * @return guest bytes taken from transmit buffers (all offered to the host side).
     */
    public synchronized long bytesFromGuest()
    {
        return bytesFromGuest;
    }

    /**
     * @return control messages ignored as unexpected or malformed.
     */
    public synchronized long ignoredControlMessages()
    {
        return control.ignoredMessages();
    }

    /**
     * @return buffers returned unused because they were malformed.
     */
    public synchronized long badChains()
    {
        return badChains;
    }

    /**
     * The driver reset the device or the front-end went away (the transport tells; a VM stop/cont is neither): stop
     * watching the back-end until a queue starts again, start the control protocol over and drop a held transmit
     * buffer (it belonged to rings that are gone).
     */
    @Override
    public void reset()
    {
        final FdWatch w;
        synchronized (this)
        {
            w = watch;
            watch = null;
        }
        // Outside the monitor: closing waits for a running callback, which takes the monitor.
        if (null != w)
        {
            w.close();
        }
        synchronized (this)
        {
            backend.wantInput(false);
            control.reset();
            if (output.isHeld())
            {
                output.release();
            }
        }
    }

    /**
     * Stops watching the back-end and closes it (process exit).
     */
    public void close()
    {
        reset();
        backend.close();
    }
}
