package io.jvhost.device.scmi;

import java.lang.System.Logger.Level;
import java.util.List;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.scmi.wire.Request;
import io.jvhost.device.scmi.wire.Response;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-scmi (virtio ID 32): an SCMI platform ({@link ScmiPlatform}: BASE and SENSOR protocols over the configured
 * sensors) behind the virtio transport, as rust-vmm's vhost-device-scmi offers it. Queue 0 (cmdq, agent to platform)
 * carries one command per chain, the command in the device-readable part and room for the response in the writable
 * part; each is answered at once. Queue 1 (eventq, platform to agent) exists because QEMU's vhost-user-scmi always has
 * two queues, but {@code VIRTIO_SCMI_F_P2A_CHANNELS} is not offered: the device sends no notifications or delayed
 * responses, so a driver gives it no buffers there (any it gives are left alone).
 * <p>
 * A chain with fewer than 8 writable bytes (no room for header and status) is returned with nothing written; any
 * other gets a response: the platform's answer, or a PROTOCOL_ERROR for a chain whose readable part cannot be read.
 * Refusals are one log line each (the first ten, then every thousandth). Nothing is allocated per command.
 */
public final class ScmiDevice implements VirtioDevice
{
    public static final int DEVICE_TYPE = 32;
    public static final int QUEUE_SIZE = 1024;
    public static final int COMMAND_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    /** VIRTIO_SCMI_F_P2A_CHANNELS: not offered. */
    public static final int F_P2A_CHANNELS = 0;

    private static final System.Logger LOG = System.getLogger(ScmiDevice.class.getName());

    private final String name;
    private final ScmiPlatform platform;
    private final List<ScmiSensor> sensors;
    private long emptied;

    /**
     * @param sensors the SENSOR protocol's sensors, by id.
     */
    public ScmiDevice(final String name, final List<ScmiSensor> sensors)
    {
        this.name = name;
        this.sensors = List.copyOf(sensors);
        this.platform = new ScmiPlatform(name, sensors);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "scmi";
    }

    @Override
    public int queueCount()
    {
        return 2;
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

    public ScmiPlatform platform()
    {
        return platform;
    }

    /**
     * @return commands answered with an error status, or returned empty.
     */
    public long refusedMessages()
    {
        return platform.refusedMessages() + emptied;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() != COMMAND_QUEUE)
        {
            return;
        }
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            queue.complete(chain, answer(chain));
        }
    }

    private long answer(final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        if (out.remaining() < Response.HEAD_SIZE)
        {
            if (LogThrottle.due(++emptied))
            {
                LOG.log(Level.WARNING, name + ": request " + chain.head() + " has " + out.remaining()
                    + " writable bytes, too few for the 8-byte response head; returned empty (" + emptied
                    + " so far)");
            }
            return 0;
        }
        final ChainReader in = chain.reader();
        final long readable = in.remaining();
        final int n = (int)Math.min(readable, Request.MAX_SIZE);
        int length = (int)Math.min(readable, Integer.MAX_VALUE);
        try
        {
            in.read(platform.request(), 0, n);
        }
        catch (final ChainAccessException e)
        {
            length = 0;
        }
        final int size = platform.handle(length, (int)Math.min(out.remaining(), Integer.MAX_VALUE));
        try
        {
            out.write(platform.response(), 0, size);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return size;
    }

    @Override
    public void reset()
    {
        platform.reset();
    }

    /**
     * Closes the sensors' host files; for when the back-end ends.
     */
    public void close()
    {
        for (final ScmiSensor s : sensors)
        {
            s.close();
        }
    }
}
