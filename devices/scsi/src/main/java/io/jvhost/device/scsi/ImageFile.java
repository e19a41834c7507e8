package io.jvhost.device.scsi;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A raw disk image: positional reads and writes straight between the file and native (guest) memory, data sync and
 * hole punching, each answering {@code -errno} instead of throwing. Thread-safe (positional calls only).
 */
final class ImageFile implements AutoCloseable
{
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;
    /** The file system cannot do what the flags ask (here: RWF_NOWAIT). */
    static final int EOPNOTSUPP = 95;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
        CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));
    private static final MethodHandle PWRITE = handle("pwrite", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
        ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);
    private static final MethodHandle PREADV = handle("preadv", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);
    private static final MethodHandle PREADV2 = handle("preadv2", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT);
    private static final MethodHandle PWRITEV = handle("pwritev", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);
    private static final MethodHandle FDATASYNC = handle("fdatasync", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle FALLOCATE = handle("fallocate", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);

    private final String path;
    private final int fd;
    private final long size;
    private final boolean readOnly;
    /** Cleared once the file system refuses RWF_NOWAIT (EOPNOTSUPP): every read then goes to a disk thread. */
    private volatile boolean noWaitReads = true;

    private ImageFile(final String path, final int fd, final long size, final boolean readOnly)
    {
        this.path = path;
        this.fd = fd;
        this.size = size;
        this.readOnly = readOnly;
    }

    private static MethodHandle handle(final String name, final MemoryLayout result, final MemoryLayout... args)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(result, args),
            Linker.Option.captureCallState("errno"));
    }

    /**
     * Opens {@code path} read-write, or read-only when {@code readOnly}.
     *
     * @throws IOException naming the path and errno.
     */
    static ImageFile open(final String path, final boolean readOnly) throws IOException
    {
        final int fd;
        try
        {
            fd = LibC.open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot open image " + path + (readOnly ? " read-only" : " read-write") + ": "
                + e.errnoName(), e);
        }
        try
        {
            return new ImageFile(path, fd, LibC.fileSize(fd), readOnly);
        }
        catch (final NativeException e)
        {
            LibC.closeQuietly(fd);
            throw new IOException("cannot stat image " + path + ": " + e.errnoName(), e);
        }
    }

    String path()
    {
        return path;
    }

    long size()
    {
        return size;
    }

    boolean readOnly()
    {
        return readOnly;
    }

    /**
     * @return bytes read into {@code address}, or {@code -errno}.
     */
    long read(final long address, final long length, final long offset)
    {
        return LibC.preadRaw(fd, address, length, offset);
    }

    /**
     * @return bytes written from {@code address}, or {@code -errno}; EINTR is retried.
     */
    long write(final long address, final long length, final long offset)
    {
        final MemorySegment c = CAPTURE.get();
        try
        {
            while (true)
            {
                final long n = (long)PWRITE.invokeExact(c, fd, address, length, offset);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = (int)ERRNO.get(c, 0L);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("pwrite on " + path + " failed to run: " + t, t);
        }
    }

    /**
     * {@code preadv} ({@code write} false) or {@code pwritev} of {@code count} iovecs at {@code iov} (at most
     * IOV_MAX), at {@code offset} of the image.
     *
     * @return bytes moved, or {@code -errno}; EINTR is retried.
     */
    long transferVector(final boolean write, final long iov, final int count, final long offset)
    {
        final MemorySegment c = CAPTURE.get();
        try
        {
            while (true)
            {
                final long n = write ? (long)PWRITEV.invokeExact(c, fd, iov, count, offset)
                    : (long)PREADV.invokeExact(c, fd, iov, count, offset);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = (int)ERRNO.get(c, 0L);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException((write ? "pwritev" : "preadv") + " on " + path + " failed to run: " + t, t);
        }
    }

    /**
     * {@code preadv2(RWF_NOWAIT)} of {@code count} iovecs at {@code iov}, at {@code offset} of the image: reads what
     * the page cache holds and fails with EAGAIN instead of waiting for the disk. A file system that cannot promise
     * that (EOPNOTSUPP) turns {@link #noWaitReads} off.
     *
     * @return bytes read (fewer than asked when only part was cached), or {@code -errno}; EINTR is retried.
     */
    long readVectorNoWait(final long iov, final int count, final long offset)
    {
        final MemorySegment c = CAPTURE.get();
        try
        {
            while (true)
            {
                final long n = (long)PREADV2.invokeExact(c, fd, iov, count, offset, LibC.RWF_NOWAIT);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = (int)ERRNO.get(c, 0L);
                if (errno == EOPNOTSUPP && noWaitReads)
                {
                    noWaitReads = false;
                    System.getLogger(ImageFile.class.getName()).log(System.Logger.Level.INFO, "image " + path
                        + ": preadv2(RWF_NOWAIT) failed with EOPNOTSUPP; every read goes to a disk thread");
                }
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("preadv2 on " + path + " failed to run: " + t, t);
        }
    }

    /**
     * @return whether reads may be tried from the page cache without waiting ({@link #readVectorNoWait}).
     */
    boolean noWaitReads()
    {
        return noWaitReads;
    }

    /**
     * @return 0, or {@code -errno}.
     */
    int sync()
    {
        return call(FDATASYNC, 0, 0, 0);
    }

    /**
     * Deallocates a range (reads as zeros afterwards), keeping the file's size.
     *
     * @return 0, or {@code -errno} (EOPNOTSUPP where the file system cannot punch holes).
     */
    int punchHole(final long offset, final long length)
    {
        return call(FALLOCATE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private int call(final MethodHandle handle, final int mode, final long offset, final long length)
    {
        final MemorySegment c = CAPTURE.get();
        try
        {
            while (true)
            {
                final int r = handle == FDATASYNC ? (int)FDATASYNC.invokeExact(c, fd)
                    : (int)FALLOCATE.invokeExact(c, fd, mode, offset, length);
                if (r == 0)
                {
                    return 0;
                }
                final int errno = (int)ERRNO.get(c, 0L);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("system call on " + path + " failed to run: " + t, t);
        }
    }

    @Override
    public void close()
    {
        LibC.closeQuietly(fd);
    }

    @Override
    public String toString()
    {
        return path + " (" + size + " bytes" + (readOnly ? ", read-only" : "") + ")";
    }
}
