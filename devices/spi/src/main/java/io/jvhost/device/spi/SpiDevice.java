package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-spi (virtio ID 45), flag-compatible with rust-vmm's vhost-device-spi: each request of the one request queue
 * is one SPI transfer on the host's {@link SpiController}.
 * <p>
 * A request is {@link TransferHead} (32 bytes), then the bytes to send (device-readable; absent for a half-duplex
 * read), then the buffer for the bytes received (device-writable; absent for a half-duplex write), then one
 * device-writable result byte: 0 TRANS_OK, 1 PARAM_ERR, 2 TRANS_ERR. The transfer's length is the tx or rx length
 * (equal when both are there). The configuration space is the controller's {@link SpiConfig} (32 bytes, read with
 * GET_CONFIG), and the head is checked against it before anything runs: a chip select at or above cs_max_number, a
 * word size outside bits_per_word_mask (or a length that is no whole number of words), a mode, bus width, clock or
 * delay the controller does not offer, tx and rx of different lengths, a head shorter than 32 bytes, or a transfer
 * over {@link SpiTransfer#MAX_LENGTH} is answered PARAM_ERR; a transfer the controller fails, TRANS_ERR. A zero-length
 * transfer (no tx, no rx: Linux never sends one) is checked and answered TRANS_OK without touching the bus. On an
 * error the rx buffer is zeroed; the spec forbids the driver to use it.
 * <p>
 * QEMU's vhost-user-spi-pci ring has 4 entries and Linux's driver has one transfer in flight, 4 buffers at most, so
 * INDIRECT_DESC is not needed to fit; it is offered anyway, as vhost-device-spi does and as virtqueue_add_sgs uses
 * when it can (QEMU passes the bit through).
 * <p>
 * Hostile requests: one without a writable result byte is returned with nothing written; every other refusal is
 * answered PARAM_ERR. One log line per refusal (the first ten, then every thousandth); the device serves on. A
 * transfer allocates nothing: tx and rx are staged in the {@link SpiTransfer}'s native buffers, made once per device.
 */
public final class SpiDevice implements VirtioDevice
{
    public static final int DEVICE_TYPE = 45;
    public static final int QUEUE_SIZE = 1024;
    public static final int TRANS_OK = 0;
    public static final int PARAM_ERR = 1;
    public static final int TRANS_ERR = 2;

    private static final System.Logger LOG = System.getLogger(SpiDevice.class.getName());

    private final String name;
    private final SpiController controller;
    private final SpiConfig config;
    private final SpiTransfer transfer = new SpiTransfer();
    private final MemorySegment scratch = MemorySegment.ofArray(new byte[TransferHead.SIZE]);
    private final TransferHead head = new TransferHead().wrap(scratch);
    private final MemorySegment configSpace = MemorySegment.ofArray(new byte[SpiConfig.SIZE]);
    private final Refusals refusals;
    private long transfers;
    private long failedTransfers;

    public SpiDevice(final String name, final SpiController controller)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "request");
        this.controller = controller;
        this.config = controller.config();
        config.write(configSpace);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "spi";
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
        return VirtioFeatures.BASELINE;
    }

    @Override
    public int configSize()
    {
        return SpiConfig.SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        ConfigSpace.read(configSpace, offset, dst);
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
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            if (chain.writableBytes() < 1)
            {
                if (refusals.add())
                {
                    refusals.log(chain, "has no writable result byte; returned empty");
                }
                queue.complete(chain, 0);
                continue;
            }
            final int result = run(chain);
            queue.complete(chain, answer(chain, result));
        }
    }

    /**
     * Checks the request and runs its transfer.
     *
     * @return the result code.
     */
    private int run(final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        if (in.remaining() < TransferHead.SIZE)
        {
            if (refusals.add())
            {
                refusals.log(chain, "has " + in.remaining() + " readable bytes, fewer than the 32-byte transfer head");
            }
            return PARAM_ERR;
        }
        final long txLength = in.remaining() - TransferHead.SIZE;
        final long rxLength = chain.writableBytes() - 1;
        if (txLength > 0 && rxLength > 0 && txLength != rxLength)
        {
            if (refusals.add())
            {
                refusals.log(chain, "sends " + txLength + " bytes but has room for " + rxLength + " received bytes;"
                    + " a full-duplex transfer's tx and rx are equally long");
            }
            return PARAM_ERR;
        }
        final long length = Math.max(txLength, rxLength);
        if (length > SpiTransfer.MAX_LENGTH)
        {
            if (refusals.add())
            {
                refusals.log(chain, "is a transfer of " + length + " bytes, more than " + SpiTransfer.MAX_LENGTH);
            }
            return PARAM_ERR;
        }
        try
        {
            in.read(scratch, 0, TransferHead.SIZE);
            final int reason = config.check(head, length);
            if (reason != SpiConfig.VALID)
            {
                if (refusals.add())
                {
                    refusals.log(chain, config.describe(reason, head, length));
                }
                return PARAM_ERR;
            }
            transfer.set(head.chipSelect(), head.bitsPerWord(), head.mode(), head.freq(), head.txNbits(),
                head.rxNbits(), head.csDelayHoldNs(), (int)length, txLength > 0, rxLength > 0);
            if (txLength > 0)
            {
                in.read(transfer.tx(), 0, txLength);
            }
            else
            {
                SpiTransfer.fill(transfer.tx(), (int)length, (byte)0);
            }
        }
        catch (final ChainAccessException e)
        {
            if (refusals.add())
            {
                refusals.log(chain, e.getMessage());
            }
            return PARAM_ERR;
        }
        if (length == 0)
        {
            return TRANS_OK;
        }
        transfers++;
        final boolean ok;
        synchronized (controller)
        {
            ok = controller.transfer(transfer);
        }
        if (!ok)
        {
            failedTransfers++;
        }
        return ok ? TRANS_OK : TRANS_ERR;
    }

    /**
     * Writes the received bytes (zeros unless the transfer succeeded) and the result byte.
     *
     * @return bytes written.
     */
    private long answer(final DescriptorChain chain, final int result)
    {
        final ChainWriter w = chain.writer();
        try
        {
            final long rxLength = w.remaining() - 1;
            if (rxLength > 0)
            {
                if (result == TRANS_OK)
                {
                    w.write(transfer.rx(), 0, rxLength);
                }
                else
                {
                    w.fill(rxLength);
                }
            }
            w.writeByte((byte)result);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return w.written();
    }

    /**
     * Counts a refusal.
     *
     * @return true when it is to be logged (the first ten, then every thousandth), so the message is built only then.
     */
}
