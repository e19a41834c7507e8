package io.jvhost.device;

/**
 * A descriptor watched on a worker thread ({@link DeviceContext#watch}).
 */
public interface FdWatch extends AutoCloseable
{
    /**
     * Stops the watch: when this returns, the callback is not running and will not run again (unless this is called
     * from the callback itself, which then simply finishes). It waits for a running callback, so it must not be
     * called while holding a lock that callback may wait for. Idempotent.
     */
    @Override
    void close();
}
