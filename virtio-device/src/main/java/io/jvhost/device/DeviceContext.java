package io.jvhost.device;

/**
 * What the transport offers a device outside {@link VirtioDevice#processQueue}: a way back onto a queue's worker
 * thread. Given to the device by {@link VirtioDevice#attach} when a driver connects.
 */
public interface DeviceContext
{
    /**
     * Makes the worker serving {@code queue} call {@link VirtioDevice#processQueue} soon, even without a kick (e.g. an
     * answer a held request waited for has arrived). Safe from any thread; cheap; coalesces.
     */
    void wake(int queue);
}
