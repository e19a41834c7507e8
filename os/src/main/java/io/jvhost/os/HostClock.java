package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One of the host's POSIX clocks, read with {@code clock_gettime(2)} (the vDSO: no system call, never blocks, so a
 * critical downcall). Each instance owns its {@code struct timespec}, so reading allocates nothing; an instance is
 * read by one thread at a time.
 */
public final class HostClock
{
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;
    public static final int CLOCK_TAI = 11;

    /** {@link #nanos()} when the clock could not be read. */
    public static final long FAILED = Long.MIN_VALUE;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle CLOCK_GETTIME = LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow("clock_gettime"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG),
        Linker.Option.critical(false));
    private static final MethodHandle CLOCK_GETRES = LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow("clock_getres"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG),
        Linker.Option.critical(false));

    /** The last second whose nanoseconds fit a long (the year 2262). */
    private static final long MAX_SECONDS = Long.MAX_VALUE / 1_000_000_000L - 1;

    private final int id;
    private final MemorySegment timespec = Arena.ofAuto().allocate(16, 8);

    private HostClock(final int id)
    {
        this.id = id;
    }

    /**
     * @param id a {@code clockid_t} ({@link #CLOCK_REALTIME}, {@link #CLOCK_MONOTONIC}, {@link #CLOCK_TAI}, ...).
     * @throws NativeException if the host has no such clock ({@code clock_getres} fails).
     */
    public static HostClock open(final int id) throws NativeException
    {
        final HostClock clock = new HostClock(id);
        final int rc;
        try
        {
            rc = (int)CLOCK_GETRES.invokeExact(id, clock.timespec.address());
        }
        catch (final Throwable t)
        {
            throw new AssertionError(t);
        }
        if (rc != 0)
        {
            throw new NativeException("clock_getres", Errno.EINVAL, "clock " + id + " is not available on this host");
        }
        return clock;
    }

    /**
     * @return the clock id.
     */
    public int id()
    {
        return id;
    }

    /**
     * @return the clock's time in nanoseconds (seconds times 10^9 plus nanoseconds; {@code CLOCK_REALTIME} since the
     *     epoch), or {@link #FAILED}.
     */
    public long nanos()
    {
        final int rc;
        try
        {
            rc = (int)CLOCK_GETTIME.invokeExact(id, timespec.address());
        }
        catch (final Throwable t)
        {
            throw new AssertionError(t);
        }
        if (rc != 0)
        {
            return FAILED;
        }
        final long sec = timespec.get(JAVA_LONG, 0);
        final long nsec = timespec.get(JAVA_LONG, 8);
        return sec < 0 ? 0 : sec > MAX_SECONDS ? Long.MAX_VALUE : sec * 1_000_000_000L + nsec;
    }
}
