package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code ioctl(2)} for a data path: each instance owns its errno capture segment, and a failure is returned as
 * {@code -errno} instead of thrown, so a call allocates nothing (compare {@link LibC#ioctl}, which boxes). One thread
 * at a time per instance.
 */
public final class Ioctl implements IoctlCall
{
    private static final MethodHandle IOCTL = Downcalls.ioctl();

    private final MemorySegment capture = Arena.ofAuto().allocate(java.lang.foreign.Linker.Option.captureStateLayout());

    /**
     * @param arg a buffer the kernel reads or fills, or for requests taking an integer that integer as an address
     *            ({@code MemorySegment.ofAddress(value)}).
     * @return the call's non-negative result, or {@code -errno}.
     */
    @Override
    public int call(final int fd, final long request, final MemorySegment arg)
    {
        final int rc;
        try
        {
            rc = (int)IOCTL.invokeExact(capture, fd, request, arg);
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        return rc >= 0 ? rc : -Downcalls.errno(capture);
    }
}
