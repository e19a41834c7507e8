package io.jvhost.device.rng;

import java.lang.System.Logger.Level;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-rng (entropy device, virtio ID 4): one request queue; each request is a chain of device-writable
 * buffers that the device fills with random bytes.
 * <p>
 * Rate limiting follows vhost-device-rng: at most {@code maxBytesPerPeriod} bytes every {@code periodMillis}. When
 * the quota is spent the worker is not blocked: the device asks to be served again when the period ends, and the
 * guest's requests wait in the ring until then.
 */
public final class RngDevice implements VirtioDevice
{
    /** virtio device ID of the entropy device. */
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 1024;
    /** vhost-device-rng's (and QEMU's) longest period. */
    public static final long MAX_PERIOD_MS = 65536;

    private static final System.Logger LOG = System.getLogger(RngDevice.class.getName());

    private final String name;
    private final EntropySource source;
    private final long periodNanos;
    private final long maxBytesPerPeriod;
    private long periodStart;
    private long usedInPeriod;
    private long rejected;
    private long bytesServed;
    private long requestsServed;

    /**
     * @param periodMillis      1..{@link #MAX_PERIOD_MS}.
     * @param maxBytesPerPeriod bytes allowed per period ({@link Long#MAX_VALUE}: no limit).
     */
    public RngDevice(final String name, final EntropySource source, final long periodMillis,
        final long maxBytesPerPeriod)
    {
        if (periodMillis < 1 || periodMillis > MAX_PERIOD_MS)
        {
            throw new IllegalArgumentException("period must be 1.." + MAX_PERIOD_MS + " ms, got " + periodMillis);
        }
        if (maxBytesPerPeriod < 0)
        {
            throw new IllegalArgumentException("max bytes must not be negative, got " + maxBytesPerPeriod);
        }
        this.name = name;
        this.source = source;
        this.periodNanos = periodMillis * 1_000_000L;
        this.maxBytesPerPeriod = maxBytesPerPeriod;
        this.periodStart = System.nanoTime();
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "rng";
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

    /**
     * @return total random bytes written into guest buffers.
     */
    public long bytesServed()
    {
        return bytesServed;
    }

    /**
     * @return requests completed (including refused ones).
     */
    public long requestsServed()
    {
        return requestsServed;
    }

    /**
     * @return requests refused because they had device-readable buffers.
     */
    public long rejectedRequests()
    {
        return rejected;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        while (true)
        {
            final long allowance = allowance();
            if (allowance == 0)
            {
                queue.retryAfter(periodStart + periodNanos - System.nanoTime());
                return;
            }
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            requestsServed++;
            if (chain.readableCount() > 0)
            {
                refuse(chain);
                queue.complete(chain, 0);
                continue;
            }
            long n = chain.writer().transferFrom(source, Math.min(chain.writableBytes(), allowance));
            if (n < 0)
            {
                LOG.log(Level.WARNING, name + ": reading " + source.path() + " failed: " + Errno.name((int)-n));
                n = 0;
            }
            usedInPeriod += n;
            bytesServed += n;
            queue.complete(chain, n);
        }
    }

    private long allowance()
    {
        if (maxBytesPerPeriod == Long.MAX_VALUE)
        {
            return Long.MAX_VALUE;
        }
        final long now = System.nanoTime();
        if (now - periodStart >= periodNanos)
        {
            periodStart = now;
            usedInPeriod = 0;
        }
        return Math.max(0, maxBytesPerPeriod - usedInPeriod);
    }

    private void refuse(final DescriptorChain chain)
    {
        if (LogThrottle.due(++rejected))
        {
            LOG.log(Level.WARNING, name + ": request " + chain.head() + " has " + chain.readableCount()
                + " device-readable buffer(s); rng requests must be device-writable only. Answered with 0 bytes"
                + " (" + rejected + " so far)");
        }
    }

    @Override
    public void reset()
    {
        periodStart = System.nanoTime();
        usedInPeriod = 0;
    }
}
