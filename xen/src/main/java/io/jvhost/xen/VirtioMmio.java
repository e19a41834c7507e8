package io.jvhost.xen;

/**
 * The registers of one virtio-mmio device, version 2 (virtio 1.2, section 4.2.2), as a domU's driver sees them
 * through Xen's IOREQ forwarding. Free of the transport: the device behind it is a {@link Device} (the vhost-user
 * bridge in production, a recorder in tests), the interrupt line an {@link Interrupt}.
 * <p>
 * Everything the guest writes is untrusted: register offsets and access sizes outside the layout read as 0 and are
 * ignored on write (counted in {@link #ignoredAccesses()}), a queue size must be a power of two not above
 * {@link #queueNumMax}, the three ring areas must lie inside the guest's RAM window with their alignment before
 * QueueReady is accepted, queue registers of a ready queue cannot change, and a device that fails to start sets
 * DEVICE_NEEDS_RESET instead of throwing.
 *
 * <pre>
 * offset  name                   dir  offset  name                   dir
 * 0x000   MagicValue "virt"      R    0x050   QueueNotify            W
 * 0x004   Version (2)            R    0x060   InterruptStatus        R
 * 0x008   DeviceID               R    0x064   InterruptACK           W
 * 0x00c   VendorID               R    0x070   Status                 RW
 * 0x010   DeviceFeatures         R    0x080   QueueDescLow/High      W (+4)
 * 0x014   DeviceFeaturesSel      W    0x090   QueueDriverLow/High    W (+4)
 * 0x020   DriverFeatures         W    0x0a0   QueueDeviceLow/High    W (+4)
 * 0x024   DriverFeaturesSel      W    0x0fc   ConfigGeneration       R
 * 0x030   QueueSel               W    0x100+  Config                 RW
 * 0x034   QueueNumMax            R
 * 0x038   QueueNum               W
 * 0x044   QueueReady             RW
 * </pre>
 * One thread at a time (the front-end's event loop).
 */
public final class VirtioMmio
{
    public static final int MAGIC = 0x7472_6976; // "virt"
    public static final int VERSION = 2;
    public static final int VENDOR = 0x4f48_564a; // "JVHO"
    /** The window libxl gives each virtio-mmio device (VIRTIO_MMIO_DEV_SIZE). */
    public static final int WINDOW = 0x200;

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION_REG = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    public static final int INT_VRING = 1;
    public static final int INT_CONFIG = 2;

    /** The device behind the registers (a vhost-user back-end through the bridge). */
    public interface Device
    {
        /** The device's features (read once, when the registers are created or reset). */
        long features() throws Exception;

        /** {@code size} (1, 2, 4) bytes of the device's configuration space at {@code offset}, little-endian. */
        long readConfig(int offset, int size) throws Exception;

        /** Writes {@code size} bytes of configuration space. */
        void writeConfig(int offset, int size, long value) throws Exception;

        /**
         * The driver set DRIVER_OK: start the ready queues with the negotiated {@code features}. Every queue in
         * {@code queues} with {@link Queue#ready} is validated already.
         */
        void start(long features, Queue[] queues) throws Exception;

        /** The driver wrote QueueNotify for a started queue. */
        void notify(int queue);

        /** The driver wrote 0 to Status: stop everything (no-op when nothing started). */
        void reset() throws Exception;
    }

    /** The interrupt line (an SPI of the domU). */
    public interface Interrupt
    {
        void level(boolean asserted);
    }

    /** One virtqueue's registers. */
    public static final class Queue
    {
        public int num;
        public boolean ready;
        public long desc;
        public long driver;
        public long device;

        void clear()
        {
            num = 0;
            ready = false;
            desc = 0;
            driver = 0;
            device = 0;
        }
    }

    private final int deviceId;
    private final int queueNumMax;
    private final long ramBase;
    private final long ramSize;
    private final Device device;
    private final Interrupt interrupt;
    private final Queue[] queues;

    private long deviceFeatures;
    private long driverFeatures;
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private int queueSel;
    private int status;
    private int interruptStatus;
    private int configGeneration;
    private boolean started;
    private long ignored;
    private String lastError = "";

    /**
     * @param deviceId    the virtio device ID the driver sees (4 for rng).
     * @param queues      how many virtqueues the device has.
     * @param queueNumMax the largest queue size offered (a power of two, at most 32768).
     * @param ramBase     guest physical address of the domU's RAM (0x40000000 on Arm).
     * @param ramSize     bytes of RAM from {@code ramBase}: every ring must lie inside.
     */
    public VirtioMmio(final int deviceId, final int queues, final int queueNumMax, final long ramBase,
        final long ramSize, final Device device, final Interrupt interrupt) throws Exception
    {
        if (queues < 1 || queues > 64 || Integer.bitCount(queueNumMax) != 1 || queueNumMax > 32768)
        {
            throw new IllegalArgumentException("queues " + queues + " (1..64), queueNumMax " + queueNumMax
                + " (a power of two up to 32768)");
        }
        this.deviceId = deviceId;
        this.queueNumMax = queueNumMax;
        this.ramBase = ramBase;
        this.ramSize = ramSize;
        this.device = device;
        this.interrupt = interrupt;
        this.queues = new Queue[queues];
        for (int i = 0; i < queues; i++)
        {
            this.queues[i] = new Queue();
        }
        this.deviceFeatures = device.features();
    }

    /**
     * A read of {@code size} bytes at {@code offset} within the window.
     *
     * @return the value (zero-extended); 0 for an undefined register or a bad size.
     */
    public long read(final long offset, final int size)
    {
        if (offset >= CONFIG && offset < WINDOW)
        {
            if (size != 1 && size != 2 && size != 4 && size != 8 || offset + size > WINDOW)
            {
                return ignore("config read of " + size + " bytes at 0x" + Long.toHexString(offset));
            }
            try
            {
                if (size == 8)
                {
                    return device.readConfig((int)offset - CONFIG, 4) & 0xFFFF_FFFFL
                        | (device.readConfig((int)offset - CONFIG + 4, 4) & 0xFFFF_FFFFL) << 32;
                }
                return device.readConfig((int)offset - CONFIG, size);
            }
            catch (final Exception e)
            {
                return ignore("config read at 0x" + Long.toHexString(offset) + " failed: " + e.getMessage());
            }
        }
        if (size != 4 || (offset & 3) != 0 || offset < 0 || offset >= WINDOW)
        {
            return ignore("read of " + size + " bytes at 0x" + Long.toHexString(offset));
        }
        final Queue q = queueSel < queues.length ? queues[queueSel] : null;
        return 0xFFFF_FFFFL & switch ((int)offset)
        {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> deviceId;
            case VENDOR_ID -> VENDOR;
            case DEVICE_FEATURES -> deviceFeaturesSel == 0 ? (int)deviceFeatures
                : deviceFeaturesSel == 1 ? (int)(deviceFeatures >>> 32) : 0;
            case QUEUE_NUM_MAX -> null == q ? 0 : queueNumMax;
            case QUEUE_READY -> null != q && q.ready ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus;
            case STATUS -> status;
            case CONFIG_GENERATION -> configGeneration;
            default -> (int)ignore("read of write-only or undefined register 0x" + Long.toHexString(offset));
        };
    }

    /**
     * A write of {@code size} bytes at {@code offset} within the window.
     */
    public void write(final long offset, final int size, final long value)
    {
        if (offset >= CONFIG && offset < WINDOW)
        {
            if (size != 1 && size != 2 && size != 4 || offset + size > WINDOW)
            {
                ignore("config write of " + size + " bytes at 0x" + Long.toHexString(offset));
                return;
            }
            try
            {
                device.writeConfig((int)offset - CONFIG, size, value);
            }
            catch (final Exception e)
            {
                ignore("config write at 0x" + Long.toHexString(offset) + " failed: " + e.getMessage());
            }
            return;
        }
        if (size != 4 || (offset & 3) != 0 || offset < 0 || offset >= WINDOW)
        {
            ignore("write of " + size + " bytes at 0x" + Long.toHexString(offset));
            return;
        }
        final int v = (int)value;
        final Queue q = queueSel < queues.length ? queues[queueSel] : null;
        switch ((int)offset)
        {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case DRIVER_FEATURES -> driverFeatures(v);
            case QUEUE_SEL -> queueSel = v < 0 ? Integer.MAX_VALUE : v;
            case QUEUE_NUM -> queueRegister(q, v, 0);
            case QUEUE_DESC_LOW -> queueRegister(q, v, 1);
            case QUEUE_DESC_HIGH -> queueRegister(q, v, 2);
            case QUEUE_DRIVER_LOW -> queueRegister(q, v, 3);
            case QUEUE_DRIVER_HIGH -> queueRegister(q, v, 4);
            case QUEUE_DEVICE_LOW -> queueRegister(q, v, 5);
            case QUEUE_DEVICE_HIGH -> queueRegister(q, v, 6);
            case QUEUE_READY -> queueReady(q, v);
            case QUEUE_NOTIFY -> queueNotify(v);
            case INTERRUPT_ACK -> acknowledge(v);
            case STATUS -> status(v);
            default -> ignore("write of read-only or undefined register 0x" + Long.toHexString(offset));
        }
    }

    /** The back-end used buffers (its call eventfd fired): raise the vring interrupt. */
    public void usedBuffers()
    {
        raise(INT_VRING);
    }

    /** The back-end changed its configuration. */
    public void configChanged()
    {
        configGeneration++;
        raise(INT_CONFIG);
    }

    public int status()
    {
        return status;
    }

    public int interruptStatus()
    {
        return interruptStatus;
    }

    public long driverFeatures()
    {
        return driverFeatures;
    }

    public Queue queue(final int index)
    {
        return queues[index];
    }

    public boolean started()
    {
        return started;
    }

    /** How many guest accesses were refused or ignored (bad offset, size, value or state). */
    public long ignoredAccesses()
    {
        return ignored;
    }

    /** Why the last access was ignored or the device failed ("" when none). */
    public String lastError()
    {
        return lastError;
    }

    private void raise(final int bit)
    {
        final boolean was = interruptStatus != 0;
        interruptStatus |= bit;
        if (!was || bit == INT_VRING)
        {
            interrupt.level(true);
        }
    }

    private void acknowledge(final int bits)
    {
        if (interruptStatus == 0)
        {
            return;
        }
        interruptStatus &= ~bits;
        if (interruptStatus == 0)
        {
            interrupt.level(false);
        }
    }

    private void driverFeatures(final int v)
    {
        if ((status & STATUS_FEATURES_OK) != 0 || (status & STATUS_DRIVER) == 0)
        {
            ignore("DriverFeatures written in status 0x" + Integer.toHexString(status));
            return;
        }
        if (driverFeaturesSel == 0)
        {
            driverFeatures = driverFeatures & 0xFFFF_FFFF_0000_0000L | v & 0xFFFF_FFFFL;
        }
        else if (driverFeaturesSel == 1)
        {
            driverFeatures = driverFeatures & 0xFFFF_FFFFL | (long)v << 32;
        }
        else
        {
            ignore("DriverFeatures with DriverFeaturesSel " + driverFeaturesSel);
        }
    }

    private void queueRegister(final Queue q, final int v, final int which)
    {
        if (null == q)
        {
            ignore("queue register for QueueSel " + queueSel + " of " + queues.length + " queues");
            return;
        }
        if (q.ready || started)
        {
            ignore("queue " + queueSel + " register changed while ready");
            return;
        }
        final long u = v & 0xFFFF_FFFFL;
        switch (which)
        {
            case 0 -> q.num = v;
            case 1 -> q.desc = q.desc & 0xFFFF_FFFF_0000_0000L | u;
            case 2 -> q.desc = q.desc & 0xFFFF_FFFFL | u << 32;
            case 3 -> q.driver = q.driver & 0xFFFF_FFFF_0000_0000L | u;
            case 4 -> q.driver = q.driver & 0xFFFF_FFFFL | u << 32;
            case 5 -> q.device = q.device & 0xFFFF_FFFF_0000_0000L | u;
            default -> q.device = q.device & 0xFFFF_FFFFL | u << 32;
        }
    }

    private void queueReady(final Queue q, final int v)
    {
        if (null == q)
        {
            ignore("QueueReady for QueueSel " + queueSel + " of " + queues.length + " queues");
            return;
        }
        if (v == 0)
        {
            if (started)
            {
                ignore("QueueReady 0 on a started device (needs a reset)");
                return;
            }
            q.ready = false;
            return;
        }
        final String bad = validate(q);
        if (null != bad)
        {
            ignore("queue " + queueSel + " not made ready: " + bad);
            return;
        }
        q.ready = true;
    }

    /** Why the queue's registers are unusable, or null. */
    private String validate(final Queue q)
    {
        if (q.num <= 0 || q.num > queueNumMax || Integer.bitCount(q.num) != 1)
        {
            return "QueueNum " + q.num + " is not a power of two in 1.." + queueNumMax;
        }
        final long n = q.num;
        String bad = inRam("descriptor table", q.desc, 16 * n, 16);
        if (null == bad)
        {
            bad = inRam("driver area", q.driver, 6 + 2 * n, 2);
        }
        if (null == bad)
        {
            bad = inRam("device area", q.device, 6 + 8 * n, 4);
        }
        return bad;
    }

    private String inRam(final String what, final long address, final long length, final int align)
    {
        if ((address & (align - 1)) != 0)
        {
            return what + " at 0x" + Long.toHexString(address) + " is not " + align + "-byte aligned";
        }
        if (length > ramSize || Long.compareUnsigned(address, ramBase) < 0
            || Long.compareUnsigned(address - ramBase, ramSize - length) > 0)
        {
            return what + " 0x" + Long.toHexString(address) + "+" + length + " is outside guest RAM 0x"
                + Long.toHexString(ramBase) + "+0x" + Long.toHexString(ramSize);
        }
        return null;
    }

    private void queueNotify(final int v)
    {
        if (!started || v < 0 || v >= queues.length || !queues[v].ready)
        {
            ignore("QueueNotify " + v + (started ? " for a queue that is not ready" : " before DRIVER_OK"));
            return;
        }
        device.notify(v);
    }

    private void status(final int v)
    {
        if (v == 0)
        {
            reset();
            return;
        }
        final int added = v & ~status;
        if ((status & ~v) != 0)
        {
            ignore("Status 0x" + Integer.toHexString(v) + " clears bits of 0x" + Integer.toHexString(status));
            return;
        }
        if ((added & STATUS_FEATURES_OK) != 0)
        {
            final long unknown = driverFeatures & ~deviceFeatures;
            if (unknown != 0)
            {
                // Leaves FEATURES_OK unset: the driver reads Status back and gives up.
                status = v & ~STATUS_FEATURES_OK;
                ignore("driver features 0x" + Long.toHexString(unknown) + " not offered");
                return;
            }
        }
        status = v;
        if ((added & STATUS_DRIVER_OK) != 0 && !started)
        {
            if ((status & STATUS_FEATURES_OK) == 0)
            {
                fail("DRIVER_OK without FEATURES_OK");
                return;
            }
            try
            {
                device.start(driverFeatures, queues);
                started = true;
            }
            catch (final Exception e)
            {
                fail("starting the device failed: " + e.getMessage());
            }
        }
    }

    private void reset()
    {
        try
        {
            device.reset();
        }
        catch (final Exception e)
        {
            lastError = "reset failed: " + e.getMessage();
        }
        for (final Queue q : queues)
        {
            q.clear();
        }
        started = false;
        status = 0;
        driverFeatures = 0;
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        queueSel = 0;
        if (interruptStatus != 0)
        {
            interruptStatus = 0;
            interrupt.level(false);
        }
    }

    private void fail(final String why)
    {
        lastError = why;
        status |= STATUS_NEEDS_RESET;
        configChanged();
    }

    private long ignore(final String why)
    {
        ignored++;
        lastError = why;
        return 0;
    }
}
