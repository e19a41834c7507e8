package io.jvhost.vhostuser.frontend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A test device: two queues, each served by its own worker, that copy every chain's readable bytes into its
 * writable part (as much as fits) and complete it with the number of bytes copied. 16 bytes of config space,
 * initially 0, 1, .., 15, restored on reset.
 */
final class EchoDevice implements VirtioDevice
{
    static final int QUEUES = 2;
    static final int MAX_QUEUE_SIZE = 256;
    static final int CONFIG_SIZE = 16;
    /** A device-specific feature bit, offered so tests can see it negotiated. */
    static final int F_ECHO = 0;
    static final long FEATURES = VirtioFeatures.bit(F_ECHO) | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
        | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);

    private final MemorySegment[] scratch = new MemorySegment[QUEUES];
    private final byte[] config = new byte[CONFIG_SIZE];
    private final AtomicLong chains = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private final AtomicLong configWrites = new AtomicLong();
    private volatile long delayNanosPerChain;
    private volatile DeviceContext context;

    EchoDevice()
    {
        for (int q = 0; q < QUEUES; q++)
        {
            scratch[q] = Arena.ofAuto().allocate(64 * 1024, 8);
        }
        resetConfig();
    }

    private void resetConfig()
    {
        synchronized (config)
        {
            for (int i = 0; i < CONFIG_SIZE; i++)
            {
                config[i] = (byte)i;
            }
        }
    }

    /**
     * @return chains the device processed since creation (invalid chains never count: it never sees them).
     */
    long chains()
    {
        return chains.get();
    }

    long bytes()
    {
        return bytes.get();
    }

    long resets()
    {
        return resets.get();
    }

    /**
     * @return SET_CONFIG writes the device received since creation.
     */
    long configWrites()
    {
        return configWrites.get();
    }

    /**
     * Changes config byte {@code at} and tells the transport, as a device whose host side changed does.
     *
     * @return what {@link DeviceContext#notifyConfigChanged} said (false when not attached).
     */
    boolean changeConfig(final int at, final byte value)
    {
        synchronized (config)
        {
            config[at] = value;
        }
        final DeviceContext c = context;
        return null != c && c.notifyConfigChanged();
    }

    @Override
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
    }

    /**
     * Makes the device slow (for tests that need requests in flight).
     */
    void setDelayPerChain(final long nanos)
    {
        delayNanosPerChain = nanos;
    }

    @Override
    public int deviceType()
    {
        return 0xEC;
    }

    @Override
    public String name()
    {
        return "echo";
    }

    @Override
    public int queueCount()
    {
        return QUEUES;
    }

    @Override
    public int maxQueueSize()
    {
        return MAX_QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return FEATURES;
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        synchronized (config)
        {
            MemorySegment.copy(MemorySegment.ofArray(config), offset, dst, 0, dst.byteSize());
        }
    }

    @Override
    public void writeConfig(final int offset, final MemorySegment src)
    {
        configWrites.incrementAndGet();
        synchronized (config)
        {
            MemorySegment.copy(src, 0, MemorySegment.ofArray(config), offset, src.byteSize());
        }
    }

    @Override
    public int queueWorker(final int queue)
    {
        return queue;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        final MemorySegment buf = scratch[queue.index()];
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final long delay = delayNanosPerChain;
            if (delay > 0)
            {
                LockSupport.parkNanos(delay);
            }
            final long n = Math.min(chain.readableBytes(), chain.writableBytes());
            long done = 0;
            try
            {
                while (done < n)
                {
                    final long chunk = Math.min(n - done, buf.byteSize());
                    chain.reader().read(buf, 0, chunk);
                    chain.writer().write(buf, 0, chunk);
                    done += chunk;
                }
            }
            catch (final ChainAccessException e)
            {
                throw new IllegalStateException("a validated chain could not be copied: " + chain, e);
            }
            chains.incrementAndGet();
            bytes.addAndGet(n);
            queue.complete(chain, n);
        }
    }

    @Override
    public void reset()
    {
        resets.incrementAndGet();
        resetConfig();
    }
}
