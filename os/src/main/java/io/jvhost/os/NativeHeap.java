package io.jvhost.os;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libc's allocator ({@code calloc}/{@code free}) for memory whose lifetime its owner manages by hand: freeing costs a
 * {@code free(3)}, where closing a shared {@link java.lang.foreign.Arena} costs a JVM-wide handshake (tens to hundreds
 * of microseconds), which adds up when thousands of small blocks go at once.
 * <p>
 * The segments have the global scope: nothing stops a read after {@link #free}. An owner may use this only when it
 * can prove that every access happens under one lock that {@code free} is called under too, and that a freed
 * segment is unreachable afterwards. Prefer an arena everywhere else.
 */
public final class NativeHeap
{
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle CALLOC = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("calloc"),
        FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("free"),
        FunctionDescriptor.ofVoid(ADDRESS));

    private NativeHeap()
    {
    }

    /**
     * Allocates {@code bytes} zeroed bytes (large blocks are fresh pages, zero without being touched).
     *
     * @return the block, {@code bytes} long.
     * @throws OutOfMemoryError when libc has no memory for it.
     */
    public static MemorySegment calloc(final long bytes)
    {
        if (bytes <= 0)
        {
            throw new IllegalArgumentException("calloc of " + bytes + " bytes");
        }
        final MemorySegment block;
        try
        {
            block = (MemorySegment)CALLOC.invokeExact(1L, bytes);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("calloc(1, " + bytes + ") failed: " + t, t);
        }
        if (block.equals(MemorySegment.NULL))
        {
            throw new OutOfMemoryError("calloc(1, " + bytes + ") returned NULL");
        }
        return block.reinterpret(bytes);
    }

    /**
     * Frees a block from {@link #calloc}; it must not be touched again.
     */
    public static void free(final MemorySegment block)
    {
        try
        {
            FREE.invokeExact(block);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("free(0x" + Long.toHexString(block.address()) + ") failed: " + t, t);
        }
    }
}
