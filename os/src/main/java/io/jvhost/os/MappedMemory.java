package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A shared {@code mmap} of a file descriptor. The mapping lives in its own shared {@link Arena}: closing it is the
 * only path to {@code munmap}, and any later access through the segment fails with an exception instead of a crash.
 */
public final class MappedMemory implements AutoCloseable
{
    private final Arena arena;
    private final MemorySegment segment;
    private final long length;

    private MappedMemory(final Arena arena, final MemorySegment segment, final long length)
    {
        this.arena = arena;
        this.segment = segment;
        this.length = length;
    }

    /**
     * Maps {@code length} bytes of {@code fd} from {@code offset}, read-write and shared.
     * The descriptor may be closed afterwards: the mapping keeps the file alive.
     */
    public static MappedMemory map(final int fd, final long offset, final long length) throws NativeException
    {
        if (length <= 0)
        {
            throw new IllegalArgumentException("mapping length must be positive, length=" + length);
        }
        final long address = LibC.mmap(length, LibC.PROT_READ | LibC.PROT_WRITE,
            LibC.MAP_SHARED | LibC.MAP_NORESERVE, fd, offset);
        final Arena arena = Arena.ofShared();
        final MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(length, arena, ignored ->
        {
            try
            {
                LibC.munmap(address, length);
            }
            catch (final NativeException e)
            {
                System.getLogger(MappedMemory.class.getName()).log(System.Logger.Level.WARNING, e.getMessage());
            }
        });
        return new MappedMemory(arena, segment, length);
    }

    /**
     * @return true when {@code t} is how the JVM reports a fault (SIGBUS) in an access to mapped memory: the file
     *     under the mapping shrank (a front-end truncated the memfd of its guest RAM) and the page is gone. The JVM
     *     throws it from the accessing thread, so it can be caught like any {@link Error}.
     */
    public static boolean isFault(final Throwable t)
    {
        return t instanceof InternalError && null != t.getMessage() && t.getMessage().contains("unsafe memory access");
    }

    /**
     * @return the mapped bytes; valid until {@link #close()}.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * @return the mapping length in bytes.
     */
    public long length()
    {
        return length;
    }

    /**
     * Unmaps. Idempotent.
     */
    @Override
    public void close()
    {
        if (arena.scope().isAlive())
        {
            arena.close();
        }
    }
}
