package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-i2c (virtio ID 34), flag-compatible with rust-vmm's vhost-device-i2c: the guest's I2C messages go to the
 * host adapters of an {@link I2cBus}.
 * <p>
 * A request is one message: {@link OutHeader} (address, flags), then the data (device-readable for a write,
 * device-writable for a read), then one device-writable status byte (0 OK, 1 error). The driver sends a transfer's
 * messages as consecutive requests, each but the last flagged FAIL_NEXT; the device gathers them (kept aside with
 * {@link DescriptorChain#copyFrom}, all within one {@link #processQueue}) and runs them as one transfer, one STOP at
 * the end, as Linux's I2C_RDWR does; every message of a failed transfer gets the error status. With
 * {@code VIRTIO_I2C_F_ZERO_LENGTH_REQUEST} a message may carry no data ({@code i2cdetect}'s quick writes; Linux does
 * not probe the device without it).
 * <p>
 * QEMU's vhost-user-i2c ring has 4 entries while a read of a register is two messages of 3 buffers each, so the
 * device offers INDIRECT_DESC (without it the guest's {@code i2cget} fails with EIO).
 * <p>
 * Hostile requests: a request without a status byte is returned with nothing written; one shorter than its header,
 * a read with device-readable data, a message over 65,535 bytes, a transfer over 42 messages or 64 KiB, or a
 * message to an address the device list does not route, fails with the error status (and its transfer with it).
 * One log line per refusal (the first ten, then every thousandth); the device serves on. A transfer allocates
 * nothing: messages are staged in one native buffer per device.
 */
public final class I2cDevice implements VirtioDevice
{
    public static final int DEVICE_TYPE = 34;
    public static final int QUEUE_SIZE = 1024;
    /** VIRTIO_I2C_F_ZERO_LENGTH_REQUEST. */
    public static final int F_ZERO_LENGTH_REQUEST = 0;
    public static final int STATUS_OK = 0;
    public static final int STATUS_ERR = 1;
    /** Chains longer than this cannot be kept aside (Linux's have 2 or 3 buffers). */
    static final int MAX_CHAIN = 64;

    private static final System.Logger LOG = System.getLogger(I2cDevice.class.getName());

    private final String name;
    private final I2cBus bus;
    private final I2cTransfer transfer = new I2cTransfer();
    private final DescriptorChain[] held = new DescriptorChain[I2cTransfer.MAX_MESSAGES];
    private final int[] messageOf = new int[I2cTransfer.MAX_MESSAGES];
    private final MemorySegment header = MemorySegment.ofArray(new byte[OutHeader.SIZE]);
    private final OutHeader out = new OutHeader().wrap(header);
    private final Refusals refusals;
    private long transfers;
    private long failedTransfers;

    public I2cDevice(final String name, final I2cBus bus)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "request");
        this.bus = bus;
        for (int i = 0; i < held.length; i++)
        {
            held[i] = new DescriptorChain(MAX_CHAIN);
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
        return "i2c";
    }

    @Override
    public int queueCount()
    {
        return 1;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE | 1L << F_ZERO_LENGTH_REQUEST;
    }

    public long refusedRequests()
    {
        return refusals.count();
    }

    public long transfers()
    {
        return transfers;
    }

    public long failedTransfers()
    {
        return failedTransfers;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        while (true)
        {
            transfer.clear();
            int n = 0;
            boolean valid = true;
            boolean more = true;
            DescriptorChain chain;
            while (more && n < held.length && null != (chain = queue.next()))
            {
                if (chain.writableBytes() < 1 || chain.count() > MAX_CHAIN)
                {
                    refusals.refuse(chain, chain.writableBytes() < 1 ? "has no writable status byte; returned empty"
                        : "has " + chain.count() + " buffers, more than " + MAX_CHAIN + "; returned empty");
                    queue.complete(chain, 0);
                    valid = false;
                    continue;
                }
                held[n].copyFrom(chain);
                final int flags = stage(held[n], n);
                if (flags < 0)
                {
                    valid = false;
                }
                more = flags >= 0 && (flags & OutHeader.FLAG_FAIL_NEXT) != 0;
                n++;
            }
            if (n == 0)
            {
                return;
            }
            final boolean ok = valid && bus.transfer(transfer);
            transfers++;
            if (!ok)
            {
                failedTransfers++;
            }
            for (int i = 0; i < n; i++)
            {
                queue.complete(held[i], answer(held[i], messageOf[i], ok));
            }
            if (more)
            {
                // The queue ran dry (or the batch budget did) in the middle of a transfer: what came was run.
                return;
            }
        }
    }

    /**
     * Reads request {@code chain}'s header and, for a write, its data into the transfer.
     *
     * @return the request's flags, or -1 when it is refused (its transfer fails).
     */
    private int stage(final DescriptorChain chain, final int slot)
    {
        messageOf[slot] = -1;
        final ChainReader in = chain.reader();
        if (in.remaining() < OutHeader.SIZE)
        {
            refusals.refuse(chain, "has " + in.remaining() + " readable bytes, fewer than the 8-byte header");
            return -1;
        }
        try
        {
            in.read(header, 0, OutHeader.SIZE);
            final int flags = out.flags();
            final int address = out.rawAddr() >>> 1;
            final boolean read = (flags & OutHeader.FLAG_M_RD) != 0;
            final long length = read ? chain.writableBytes() - 1 : in.remaining();
            if (read && in.remaining() > 0)
            {
                refusals.refuse(chain, "is a read to 0x" + Integer.toHexString(address) + " with " + in.remaining()
                    + " device-readable data bytes");
                return -1;
            }
            if (out.rawAddr() > 0xFF)
            {
                refusals.refuse(chain, "has address field 0x" + Integer.toHexString(out.rawAddr())
                    + ", not a 7-bit address");
                return -1;
            }
            final int message = length > I2cTransfer.MAX_MESSAGE ? -1 : transfer.add(address, read, (int)length);
            if (message < 0)
            {
                refusals.refuse(chain, "carries " + length + " bytes for 0x" + Integer.toHexString(address)
                    + "; a message holds at most " + I2cTransfer.MAX_MESSAGE + " and a transfer "
                    + I2cTransfer.MAX_MESSAGES + " messages or " + I2cTransfer.MAX_BYTES + " bytes");
                return -1;
            }
            if (!read)
            {
                in.read(transfer.staging(), transfer.offset(message), length);
            }
            messageOf[slot] = message;
            return flags;
        }
        catch (final ChainAccessException e)
        {
            refusals.refuse(chain, e.getMessage());
            return -1;
        }
    }

    /**
     * Writes the read data (when the transfer succeeded) and the status byte.
     *
     * @return bytes written.
     */
    private long answer(final DescriptorChain chain, final int message, final boolean ok)
    {
        final ChainWriter w = chain.writer();
        try
        {
            final long before = w.remaining() - 1;
            if (ok && message >= 0 && transfer.isRead(message))
            {
                w.write(transfer.staging(), transfer.offset(message), transfer.length(message));
            }
            else if (before > 0)
            {
                w.fill(before);
            }
            w.writeByte((byte)(ok ? STATUS_OK : STATUS_ERR));
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return w.written();
    }

}
