package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Downcall handles with errno captured, for the byte-stream classes ({@link TcpListener}, {@link StreamFd},
 * {@link Terminal}) that bind calls {@link LibC} does not have.
 */
final class Downcalls
{
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private Downcalls()
    {
    }

    /**
     * @return a handle whose first argument is the capture segment ({@link #capture()}).
     */
    static MethodHandle of(final String name, final MemoryLayout result, final MemoryLayout... args)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(result, args),
            Linker.Option.captureCallState("errno"));
    }

    /**
     * @return the variadic {@code ioctl(int, unsigned long, void *)} with errno captured.
     */
    static MethodHandle ioctl()
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("ioctl"),
            FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.ADDRESS),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
    }

    /**
     * @return a handle without errno capture, for calls on the data path: the JDK's capture-segment check can
     *     allocate per call when C2 does not inline it, so callers make a second, capturing call only on failure.
     */
    static MethodHandle plain(final String name, final MemoryLayout result, final MemoryLayout... args)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(result, args));
    }

    /**
     * @return {@link #ioctl()} without errno capture.
     */
    static MethodHandle plainIoctl()
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("ioctl"),
            FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));
    }

    static MemorySegment capture()
    {
        return CAPTURE.get();
    }

    static int errno(final MemorySegment capture)
    {
        return (int)ERRNO.get(capture, 0L);
    }

    static RuntimeException rethrow(final Throwable t)
    {
        if (t instanceof RuntimeException re)
        {
            return re;
        }
        if (t instanceof Error e)
        {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
