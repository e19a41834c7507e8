package io.jvhost.device.can;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.can.wire.CanMessage;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-can (virtio ID 36): one CAN controller on a {@link CanPort}, as rust-vmm's vhost-device-can offers it. Queue 0
 * (Txq) carries the driver's frames, each answered with a result byte; queue 1 (Rxq) holds the driver's buffers for
 * received frames; queue 2 (Controlq) starts and stops the controller. The 2-byte config is {@code le16 status}, whose
 * bit 0 (BUSOFF) says the controller stopped on its own.
 * <p>
 * The controller starts STOPPED. START and STOP are answered OK and leave it in the requested mode (also when it was
 * already there: the transition is then empty); any other control message, or one shorter than its 2-byte type, is
 * NOT_OK. While STOPPED, every transmission is NOT_OK and received frames are dropped; STOP also drops the frames
 * received but not yet delivered.
 * <p>
 * A transmission is NOT_OK, and never reaches the bus, when its message is shorter than the 16-byte header or than the
 * header and its payload, its type is not TX, its flags hold a bit virtio-can does not define, its kind (classic, FD,
 * RTR) was not negotiated, an RTR frame claims FD, its length is not one its kind allows (classic and RTR 0..8, FD
 * 0..8, 12, 16, 20, 24, 32, 48, 64), its identifier needs more than 11 (29 with EXTENDED) bits, or the port refused it
 * (a host interface's errno). A TX chain without a writable byte cannot be answered: it is returned empty and not
 * transmitted.
 * Frames are transmitted at once, so VIRTIO_CAN_F_LATE_TX_ACK is not offered (as in vhost-device-can).
 * <p>
 * Received frames wait in a FIFO of {@link #FIFO_FRAMES} frames (further ones are dropped, counted as overruns, as a
 * controller's receive FIFO overflows) until the driver's RX buffers take them, one frame per buffer. A frame of a kind
 * the driver did not negotiate (FD, classic, RTR) is dropped. An RX buffer with a device-readable part, or smaller
 * than the header and the largest payload the driver negotiated (8, or 64 with FD), is returned empty and the frame
 * waits for the next one.
 * <p>
 * Refusals are one log line each (the first ten, then every thousandth). Steady state allocates nothing: messages are
 * copied into scratch frames and the FIFO's slots, all allocated once.
 */
public final class CanDevice implements VirtioDevice, CanPort.Receiver
{
    public static final int DEVICE_TYPE = 36;
    /** vhost-device-can's queue size. */
    public static final int QUEUE_SIZE = 64;
    public static final int TX_QUEUE = 0;
    public static final int RX_QUEUE = 1;
    public static final int CONTROL_QUEUE = 2;

    public static final int F_CAN_CLASSIC = 0;
    public static final int F_CAN_FD = 1;
    public static final int F_RTR_FRAMES = 2;
    public static final int F_LATE_TX_ACK = 3;

    public static final int MSG_TX = 0x0001;
    public static final int MSG_RX = 0x0101;
    public static final int CTRL_START = 0x0201;
    public static final int CTRL_STOP = 0x0202;

    public static final int RESULT_OK = 0;
    public static final int RESULT_NOT_OK = 1;

    /** VIRTIO_CAN_S_CTRL_BUSOFF in the config's status. */
    public static final int S_CTRL_BUSOFF = 1;
    public static final int CONFIG_SIZE = 2;

    /** Received frames held until the driver's buffers take them. */
    public static final int FIFO_FRAMES = 256;

    private static final System.Logger LOG = System.getLogger(CanDevice.class.getName());
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Why a transmission is refused. */
    enum TxError
    {
        SHORT_HEADER("is shorter than the 16-byte header"),
        NOT_TX("is not a TX message"),
        UNKNOWN_FLAGS("has flags virtio-can does not define"),
        FD_NOT_NEGOTIATED("is a CAN FD frame but VIRTIO_CAN_F_CAN_FD was not negotiated"),
        CLASSIC_NOT_NEGOTIATED("is a classic frame but VIRTIO_CAN_F_CAN_CLASSIC was not negotiated"),
        RTR_NOT_NEGOTIATED("is an RTR frame but VIRTIO_CAN_F_RTR_FRAMES was not negotiated"),
        RTR_FD("is an RTR frame with the FD flag (RTR is classic only)"),
        LENGTH("has a length its kind of frame cannot have"),
        SHORT_PAYLOAD("is shorter than its header and payload"),
        ID_RANGE("has an identifier wider than its 11 or 29 bits"),
        STOPPED("arrived while the controller is stopped"),
        PORT("was refused by the port");

        final String why;

        TxError(final String why)
        {
            this.why = why;
        }
    }

    private final String name;
    private final CanPort port;
    private final boolean offerFd;
    private final CanFrame tx = new CanFrame();
    private final MemorySegment txIn = MemorySegment.ofArray(new byte[CanMessage.MAX_SIZE]);
    private final CanMessage txMessage = new CanMessage();
    private final MemorySegment control = MemorySegment.ofArray(new byte[2]);
    private final MemorySegment rx = MemorySegment.ofArray(new byte[CanMessage.MAX_SIZE]);

    // The FIFO: slots in the virtio_can_rx layout, guarded by itself (frames arrive on other members' workers and on
    // the port's watch).
    private final Object fifoLock = new Object();
    private final CanFrame[] fifo = new CanFrame[FIFO_FRAMES];
    private int fifoHead;
    private int fifoCount;
    private long overruns;
    private long filtered;
    private long receivedWhileStopped;

    private volatile DeviceContext context;
    private volatile long negotiated;
    private volatile boolean started;
    private volatile int status;
    private long transmitted;
    private long delivered;
    private long refused;
    private long rxRefused;
    private int lastPortErrno;

    /**
     * @param name a name for logs ({@code can0}).
     * @param port the bus; bound to this device here.
     */
    public CanDevice(final String name, final CanPort port)
    {
        this.name = name;
        this.port = port;
        this.offerFd = port.canFd();
        for (int i = 0; i < FIFO_FRAMES; i++)
        {
            fifo[i] = new CanFrame();
        }
        txMessage.wrap(txIn);
        port.bind(this);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "can";
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
        return VirtioFeatures.BASELINE | 1L << F_CAN_CLASSIC | (offerFd ? 1L << F_CAN_FD : 0) | 1L << F_RTR_FRAMES;
    }

    @Override
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
        port.attach(deviceContext);
    }

    @Override
    public void featuresAcked(final long features)
    {
        negotiated = features & features();
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
        config.set(LE16, 0, (short)status);
        ConfigSpace.read(config, offset, dst);
    }

    /**
     * @return the port this device transmits on.
     */
    public CanPort port()
    {
        return port;
    }

    /**
     * @return true while the driver has the controller started.
     */
    public boolean started()
    {
        return started;
    }

    /**
     * @return the config's status (bit 0: bus-off).
     */
    public int status()
    {
        return status;
    }

    /**
     * @return frames put on the bus.
     */
    public long transmitted()
    {
        return transmitted;
    }

    /**
     * @return frames written into the driver's RX buffers.
     */
    public long delivered()
    {
        return delivered;
    }

    /**
     * @return transmissions and control messages answered NOT_OK, and chains returned empty.
     */
    public long refusedRequests()
    {
        return refused;
    }

    /**
     * @return received frames dropped because the FIFO was full.
     */
    public long overruns()
    {
        synchronized (fifoLock)
        {
            return overruns;
        }
    }

    /**
     * @return received frames dropped because the driver did not negotiate their kind.
     */
    public long filtered()
    {
        synchronized (fifoLock)
        {
            return filtered;
        }
    }

    /**
     * @return received frames waiting for an RX buffer.
     */
    public int pending()
    {
        synchronized (fifoLock)
        {
            return fifoCount;
        }
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        switch (queue.index())
        {
            case TX_QUEUE -> serveTx(queue);
            case RX_QUEUE -> serveRx(queue);
            case CONTROL_QUEUE -> serveControl(queue);
            default ->
            {
                // The transport serves only the three queues.
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Txq

    private void serveTx(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final ChainWriter out = chain.writer();
            if (out.remaining() < 1)
            {
                if (logRefusal())
                {
                    LOG.log(Level.WARNING, name + ": TX request " + chain.head() + " has no writable byte for its"
                        + " result; returned empty, not transmitted (" + refused + " refused so far)");
                }
                queue.complete(chain, 0);
                continue;
            }
            final TxError error = transmit(chain);
            if (null != error && logRefusal())
            {
                LOG.log(Level.WARNING, name + ": TX request " + chain.head() + " " + error.why
                    + describeTx(chain, error) + "; answered NOT_OK (" + refused + " refused so far)");
            }
            try
            {
                out.writeByte((byte)(null == error ? RESULT_OK : RESULT_NOT_OK));
            }
            catch (final ChainAccessException e)
            {
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, 1);
        }
    }

    /**
     * @return null when the frame went onto the bus.
     */
    private TxError transmit(final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        final long readable = in.remaining();
        if (readable < CanMessage.HEADER_SIZE)
        {
            return TxError.SHORT_HEADER;
        }
        final int n = (int)Math.min(readable, CanMessage.MAX_SIZE);
        try
        {
            in.read(txIn, 0, n);
        }
        catch (final ChainAccessException e)
        {
            return TxError.SHORT_HEADER;
        }
        final TxError error = check(txMessage, n, negotiated, started);
        if (null != error)
        {
            return error;
        }
        tx.set(txMessage.canId(), txMessage.flags(), txMessage.length(), txIn, CanMessage.SDU);
        final int errno = port.transmit(tx);
        if (errno != 0)
        {
            lastPortErrno = errno;
            return TxError.PORT;
        }
        transmitted++;
        return null;
    }

    /**
     * Checks a TX message of {@code readable} bytes (at most {@link CanMessage#MAX_SIZE} of it in {@code m}).
     *
     * @return null when it may be transmitted.
     */
    static TxError check(final CanMessage m, final int readable, final long features, final boolean running)
    {
        if (readable < CanMessage.HEADER_SIZE)
        {
            return TxError.SHORT_HEADER;
        }
        if (m.msgType() != MSG_TX)
        {
            return TxError.NOT_TX;
        }
        final int flags = m.flags();
        if ((flags & ~CanFrame.KNOWN_FLAGS) != 0)
        {
            return TxError.UNKNOWN_FLAGS;
        }
        final boolean fd = (flags & CanFrame.FLAG_FD) != 0;
        final boolean rtr = (flags & CanFrame.FLAG_RTR) != 0;
        if (fd && (features & 1L << F_CAN_FD) == 0)
        {
            return TxError.FD_NOT_NEGOTIATED;
        }
        if (!fd && (features & 1L << F_CAN_CLASSIC) == 0)
        {
            return TxError.CLASSIC_NOT_NEGOTIATED;
        }
        if (rtr && fd)
        {
            return TxError.RTR_FD;
        }
        if (rtr && (features & 1L << F_RTR_FRAMES) == 0)
        {
            return TxError.RTR_NOT_NEGOTIATED;
        }
        final int length = m.length();
        if (fd ? length > CanMessage.MAX_SDU || !CanFrame.fdLength(length) : length > CanFrame.CLASSIC_MAX)
        {
            return TxError.LENGTH;
        }
        if (!rtr && readable < CanMessage.HEADER_SIZE + length)
        {
            return TxError.SHORT_PAYLOAD;
        }
        final int id = m.canId();
        if (Integer.compareUnsigned(id, (flags & CanFrame.FLAG_EXTENDED) != 0 ? CanFrame.EFF_MASK : CanFrame.SFF_MASK)
            > 0)
        {
            return TxError.ID_RANGE;
        }
        return running ? null : TxError.STOPPED;
    }

    private String describeTx(final DescriptorChain chain, final TxError error)
    {
        return switch (error)
        {
            case SHORT_HEADER -> " (" + chain.readableBytes() + " readable bytes)";
            case NOT_TX -> " (msg_type 0x" + Integer.toHexString(txMessage.msgType()) + ")";
            case UNKNOWN_FLAGS -> " (flags 0x" + Integer.toHexString(txMessage.flags()) + ")";
            case LENGTH -> " (length " + txMessage.length() + ", flags 0x" + Integer.toHexString(txMessage.flags())
                + ")";
            case SHORT_PAYLOAD -> " (" + chain.readableBytes() + " readable bytes for length " + txMessage.length()
                + ")";
            case ID_RANGE -> " (can_id 0x" + Integer.toHexString(txMessage.canId()) + ", flags 0x"
                + Integer.toHexString(txMessage.flags()) + ")";
            case PORT -> " (" + port.name() + ": " + Errno.name(lastPortErrno) + ")";
            default -> "";
        };
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Rxq

    @Override
    public void receive(final CanFrame frame)
    {
        if (!started)
        {
            synchronized (fifoLock)
            {
                receivedWhileStopped++;
            }
            return;
        }
        final long features = negotiated;
        final boolean wanted = frame.fd() ? (features & 1L << F_CAN_FD) != 0
            : (features & 1L << F_CAN_CLASSIC) != 0 && (!frame.rtr() || (features & 1L << F_RTR_FRAMES) != 0);
        long dropped = 0;
        synchronized (fifoLock)
        {
            if (!wanted)
            {
                dropped = ++filtered;
            }
            else if (fifoCount == FIFO_FRAMES)
            {
                dropped = ++overruns;
            }
            else
            {
                fifo[(fifoHead + fifoCount) % FIFO_FRAMES].copyFrom(frame);
                fifoCount++;
            }
        }
        if (dropped != 0)
        {
            if (LogThrottle.due(dropped))
            {
                LOG.log(Level.WARNING, name + ": received frame " + frame + " dropped: " + (wanted
                    ? "the receive FIFO of " + FIFO_FRAMES + " frames is full (" + dropped + " overruns so far)"
                    : "the driver did not negotiate its kind (" + dropped + " dropped so far)"));
            }
            return;
        }
        final DeviceContext ctx = context;
        if (null != ctx)
        {
            ctx.wake(RX_QUEUE);
        }
    }

    @Override
    public void busOff()
    {
        final boolean was = started;
        started = false;
        status |= S_CTRL_BUSOFF;
        clearFifo();
        LOG.log(Level.WARNING, name + ": " + port.name() + " went bus-off; the controller is stopped until the driver"
            + " starts it again" + (was ? "" : " (it was not started)"));
        final DeviceContext ctx = context;
        if (null != ctx && !ctx.notifyConfigChanged())
        {
            LOG.log(Level.WARNING, name + ": the front-end could not be told of the bus-off (no config notification)");
        }
    }

    private void serveRx(final DeviceQueue queue)
    {
        if (!started)
        {
            return;
        }
        final int bufferSize = CanMessage.HEADER_SIZE
            + ((negotiated & 1L << F_CAN_FD) != 0 ? CanMessage.MAX_SDU : CanFrame.CLASSIC_MAX);
        while (pending() > 0)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            final ChainWriter out = chain.writer();
            if (chain.readableCount() > 0 || out.remaining() < bufferSize)
            {
                if (LogThrottle.due(++rxRefused))
                {
                    LOG.log(Level.WARNING, name + ": RX buffer " + chain.head() + " has " + chain.readableBytes()
                        + " readable and " + out.remaining() + " writable bytes; it needs " + bufferSize
                        + " writable only. Returned empty (" + rxRefused + " refused so far)");
                }
                queue.complete(chain, 0);
                continue;
            }
            final int size = pop();
            if (size == 0)
            {
                queue.complete(chain, 0);
                return;
            }
            try
            {
                out.write(rx, 0, size);
            }
            catch (final ChainAccessException e)
            {
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, size);
            delivered++;
        }
    }

    /**
     * Moves the oldest frame into {@link #rx}.
     *
     * @return its size, 0 when the FIFO is empty.
     */
    private int pop()
    {
        synchronized (fifoLock)
        {
            if (fifoCount == 0)
            {
                return 0;
            }
            final CanFrame f = fifo[fifoHead];
            final int size = f.size();
            MemorySegment.copy(f.bytes, 0, rx, 0, size);
            fifoHead = (fifoHead + 1) % FIFO_FRAMES;
            fifoCount--;
            return size;
        }
    }

    private void clearFifo()
    {
        synchronized (fifoLock)
        {
            fifoHead = 0;
            fifoCount = 0;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Controlq

    private void serveControl(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final ChainWriter out = chain.writer();
            if (out.remaining() < 1)
            {
                if (logRefusal())
                {
                    LOG.log(Level.WARNING, name + ": control request " + chain.head() + " has no writable byte for its"
                        + " result; returned empty (" + refused + " refused so far)");
                }
                queue.complete(chain, 0);
                continue;
            }
            final int result = control(chain);
            try
            {
                out.writeByte((byte)result);
            }
            catch (final ChainAccessException e)
            {
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, 1);
        }
    }

    private int control(final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        int type = -1;
        if (in.remaining() >= 2)
        {
            try
            {
                in.read(control, 0, 2);
                type = control.get(LE16, 0) & 0xFFFF;
            }
            catch (final ChainAccessException e)
            {
                type = -1;
            }
        }
        switch (type)
        {
            case CTRL_START ->
            {
                clearFifo();
                status = 0;
                started = true;
                LOG.log(Level.INFO, name + ": controller started on " + port.name() + " (" + kinds() + ")");
                return RESULT_OK;
            }
            case CTRL_STOP ->
            {
                started = false;
                clearFifo();
                LOG.log(Level.INFO, name + ": controller stopped");
                return RESULT_OK;
            }
            default ->
            {
                if (logRefusal())
                {
                    LOG.log(Level.WARNING, name + ": control request " + chain.head() + (type < 0
                        ? " is shorter than its 2-byte msg_type (" + chain.readableBytes() + " readable bytes)"
                        : " has unknown msg_type 0x" + Integer.toHexString(type)) + "; answered NOT_OK (" + refused
                        + " refused so far)");
                }
                return RESULT_NOT_OK;
            }
        }
    }

    private String kinds()
    {
        final long f = negotiated;
        return ((f & 1L << F_CAN_CLASSIC) != 0 ? "classic" : "") + ((f & 1L << F_CAN_FD) != 0 ? " FD" : "")
            + ((f & 1L << F_RTR_FRAMES) != 0 ? " RTR" : "");
    }

    /**
     * Counts a refusal.
     *
     * @return true when it is one to log (the first ten, then every thousandth).
     */
    private boolean logRefusal()
    {
        return LogThrottle.due(++refused);
    }

    @Override
    public void reset()
    {
        started = false;
        status = 0;
        negotiated = 0;
        clearFifo();
        port.detach();
        context = null;
    }
}
