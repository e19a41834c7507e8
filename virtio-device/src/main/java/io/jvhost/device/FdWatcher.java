package io.jvhost.device;

/**
 * Where a descriptor can be watched: {@link DeviceContext#watch} bound to one queue's worker.
 */
@FunctionalInterface
public interface FdWatcher
{
    /**
     * @return the watch, or null when descriptors cannot be watched here.
     * @see DeviceContext#watch
     */
    FdWatch watch(int fd, Runnable onReadable);
}
