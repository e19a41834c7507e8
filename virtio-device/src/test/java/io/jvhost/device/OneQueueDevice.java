package io.jvhost.device;

import java.util.function.Consumer;

/**
 * A device of one queue whose {@link #processQueue} is the test's own code: for tests of the queue machinery
 * (ActiveQueue, QueueFuzzer) that need a device and nothing of one.
 */
public final class OneQueueDevice implements VirtioDevice
{
    private final int maxQueueSize;
    private final long features;
    private final Consumer<DeviceQueue> body;

    /**
     * @param features what {@link #features()} offers.
     * @param body     runs for every {@link #processQueue} call.
     */
    public OneQueueDevice(final int maxQueueSize, final long features, final Consumer<DeviceQueue> body)
    {
        this.maxQueueSize = maxQueueSize;
        this.features = features;
        this.body = body;
    }

    @Override
    public int deviceType()
    {
        return 0;
    }

    @Override
    public String name()
    {
        return "test";
    }

    @Override
    public int queueCount()
    {
        return 1;
    }

    @Override
    public int maxQueueSize()
    {
        return maxQueueSize;
    }

    @Override
    public long features()
    {
        return features;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        body.accept(queue);
    }
}
