package io.jvhost.os;

import java.lang.foreign.MemorySegment;

/**
 * An {@code ioctl(2)} as a back-end sees it: {@link Ioctl} on the host, a fake driver's answers in tests (which check
 * what would reach the kernel).
 */
@FunctionalInterface
public interface IoctlCall
{
    /**
     * @return the call's non-negative result, or {@code -errno}.
     */
    int call(int fd, long request, MemorySegment arg);
}
