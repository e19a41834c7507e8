package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Hand-written FFM bindings for the libc functions jvhost needs, with errno captured by the linker
 * ({@link Linker.Option#captureCallState}) so the JVM cannot clobber it between the call and the check.
 * <p>
 * Every wrapper returns the C result when it succeeded and throws {@link NativeException} naming the call,
 * the errno and the offending arguments otherwise. Pointer arguments that point into guest memory are
 * passed as raw {@code long} addresses so the hot path does not slice segments (which would allocate).
 * <p>
 * Only {@code read} and {@code write} retry on {@code EINTR}; callers of blocking calls handle it themselves.
 */
public final class LibC
{
    // Linux constants shared by x86-64 and aarch64.
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_ACCEPTCONN = 30;
    public static final int SO_SNDTIMEO = 21;
    public static final int SCM_RIGHTS = 1;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int MSG_CTRUNC = 0x8;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_NONE = 0;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MFD_CLOEXEC = 1;
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 0x1;
    public static final int EPOLLOUT = 0x4;
    /** Edge-triggered: one event per change of readiness, so interest need not be toggled per request. */
    public static final int EPOLLET = 0x8000_0000;
    public static final int EPOLLERR = 0x8;
    public static final int EPOLLHUP = 0x10;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int F_GETFD = 1;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int FD_CLOEXEC = 1;
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int RWF_NOWAIT = 0x8;
    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    public static final int S_IFMT = 0xF000;
    public static final int S_IFSOCK = 0xC000;

    /** True on x86-64, where {@code struct epoll_event} is packed and {@code struct stat} differs. */
    public static final boolean X86_64 = "amd64".equals(System.getProperty("os.arch"))
        || "x86_64".equals(System.getProperty("os.arch"));

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    // Downcall handles are created in three holder classes, initialised on first use (or ahead of it by
    // preload()): each costs a cold JVM milliseconds of stub generation, and a back-end needs only the first
    // group before it can listen. Static finals in a holder are constants to the JIT like any other.

    /** Calls a back-end makes before it listens and accepts. */
    private static final class Listen
    {
        static final MethodHandle SOCKET = downcall("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle BIND = downcall("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle LISTEN = downcall("listen", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle ACCEPT4 = downcall("accept4", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
        static final MethodHandle CLOSE = downcall("close", JAVA_INT, JAVA_INT);
        static final MethodHandle FCNTL = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("fcntl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
        static final MethodHandle UNLINK = downcall("unlink", JAVA_INT, ADDRESS);
        static final MethodHandle SETSOCKOPT =
            downcall("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle GETSOCKOPT =
            downcall("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle FSTAT = downcall("fstat", JAVA_INT, JAVA_INT, ADDRESS);
    }

    /** Calls that serve a front-end's messages and the rings' eventfds. */
    private static final class Serve
    {
        static final MethodHandle SENDMSG = downcall("sendmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle RECVMSG = downcall("recvmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle EVENTFD = downcall("eventfd", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1", JAVA_INT, JAVA_INT);
        static final MethodHandle EPOLL_CTL = downcall("epoll_ctl", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final MethodHandle EPOLL_WAIT = downcall("epoll_wait", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        /** The event as a plain address and no errno capture: nothing to allocate per call. */
        static final MethodHandle EPOLL_CTL_NO_ERRNO =
            plainDowncall("epoll_ctl", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG);
        // Every worker wake-up waits here: without errno capture, whose per-call segment check may allocate when C2
        // does not inline it (seen on a loaded machine); errno is fetched by a second, non-waiting call on failure.
        static final MethodHandle EPOLL_WAIT_NO_ERRNO =
            plainDowncall("epoll_wait", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        // I/O on our own eventfds (created O_NONBLOCK, flags nobody else can change): it cannot block, so it may be a
        // critical downcall (no thread-state transition), and it needs no errno (any failure means "not signalled").
        // Never on a peer's descriptor: a blocked critical downcall keeps the whole JVM from its next safepoint.
        static final MethodHandle EVENTFD_WRITE = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("eventfd_write"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), Linker.Option.critical(false));
        static final MethodHandle EVENTFD_READ = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("eventfd_read"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), Linker.Option.critical(false));
        static final MethodHandle SHUTDOWN = downcall("shutdown", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle PREADV2 =
            downcall("preadv2", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
        // The same calls on a peer's eventfd per request: normal downcalls (never critical: they act on a peer's
        // descriptor) without errno capture, whose per-call segment check may allocate when C2 does not inline it.
        static final MethodHandle PREADV2_NO_ERRNO = plainDowncall("preadv2", JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_INT, JAVA_LONG, JAVA_INT);
        static final MethodHandle POLL_NO_ERRNO = plainDowncall("poll", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT);
        static final MethodHandle WRITE_NO_ERRNO = plainDowncall("write", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
        // A sensor's sysfs value file per reading (scmi's IIO sensors), for the same reason.
        static final MethodHandle PREAD_NO_ERRNO = plainDowncall("pread", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG,
            JAVA_LONG);
        static final MethodHandle MMAP_NO_ERRNO =
            plainDowncall("mmap", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG);
        /** The pointer argument as a plain address: no segment to check per call, so nothing to allocate. */
        static final MethodHandle IOCTL_NO_ERRNO = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("ioctl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }

    /** Everything else: guest memory, files, ioctls, the front-end side. */
    private static final class Other
    {
        static final MethodHandle SOCKETPAIR = downcall("socketpair", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final MethodHandle CONNECT = downcall("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle READ = downcall("read", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
        static final MethodHandle WRITE = downcall("write", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
        static final MethodHandle PREAD = downcall("pread", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        static final MethodHandle MMAP =
            downcall("mmap", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG);
        static final MethodHandle MUNMAP = downcall("munmap", JAVA_INT, JAVA_LONG, JAVA_LONG);
        static final MethodHandle MEMFD_CREATE = downcall("memfd_create", JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle FTRUNCATE = downcall("ftruncate", JAVA_INT, JAVA_INT, JAVA_LONG);
        static final MethodHandle IOCTL = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("ioctl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
        static final MethodHandle OPEN = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("open"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
    }

    /** Size of {@code struct stat}: 144 bytes on x86-64, 128 on aarch64. */
    public static final int STAT_SIZE = X86_64 ? 144 : 128;
    private static final long STAT_MODE_OFFSET = X86_64 ? 24 : 16;
    private static final long STAT_SIZE_OFFSET = 48;

    private LibC()
    {
    }

    /**
     * Creates every downcall handle now, in the order a back-end needs them (listen, serve, the rest), so that a
     * thread started early at launch can do it while the main thread parses its command line.
     */
    public static void preload()
    {
        for (final Class<?> holder : new Class<?>[] {Listen.class, Serve.class, Other.class})
        {
            try
            {
                MethodHandles.lookup().ensureInitialized(holder);
            }
            catch (final IllegalAccessException e)
            {
                throw new AssertionError(e);
            }
        }
    }

    private static MethodHandle downcall(final String name, final MemoryLayout result, final MemoryLayout... args)
    {
        return LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow(name),
            FunctionDescriptor.of(result, args),
            Linker.Option.captureCallState("errno"));
    }

    private static MethodHandle plainDowncall(final String name, final MemoryLayout result,
        final MemoryLayout... args)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(result, args));
    }

    private static MemorySegment capture()
    {
        return CAPTURE.get();
    }

    private static int errno(final MemorySegment capture)
    {
        return (int)ERRNO.get(capture, 0L);
    }

    private static RuntimeException rethrow(final Throwable t)
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

    /**
     * Calls an int-returning function on a cold path (set-up, not per request): boxes its arguments, captures errno,
     * and throws {@link NativeException} naming the call when the result is negative.
     */
    private static int callInt(final MethodHandle handle, final String call, final String detail, final Object... args)
        throws NativeException
    {
        final MemorySegment c = capture();
        final Object[] all = new Object[args.length + 1];
        all[0] = c;
        System.arraycopy(args, 0, all, 1, args.length);
        final int result;
        try
        {
            result = (int)handle.invokeWithArguments(all);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        return check(result, c, call, detail);
    }

    private static int check(final int result, final MemorySegment capture, final String call, final String detail)
        throws NativeException
    {
        if (result < 0)
        {
            throw new NativeException(call, errno(capture), detail);
        }
        return result;
    }

    private static long check(final long result, final MemorySegment capture, final String call, final String detail)
        throws NativeException
    {
        if (result < 0)
        {
            throw new NativeException(call, errno(capture), detail);
        }
        return result;
    }

    public static int socket(final int domain, final int type, final int protocol) throws NativeException
    {
        return callInt(Listen.SOCKET, "socket", "", domain, type, protocol);
    }

    /**
     * @param fds a segment of at least 8 bytes receiving the two descriptors.
     */
    public static void socketpair(final int domain, final int type, final int protocol, final MemorySegment fds)
        throws NativeException
    {
        callInt(Other.SOCKETPAIR, "socketpair", "", domain, type, protocol, fds);
    }

    public static void bind(final int fd, final MemorySegment addr, final int addrLen, final String what)
        throws NativeException
    {
        callInt(Listen.BIND, "bind", what, fd, addr, addrLen);
    }

    public static void listen(final int fd, final int backlog) throws NativeException
    {
        callInt(Listen.LISTEN, "listen", "fd=" + fd, fd, backlog);
    }

    public static int accept4(final int fd, final int flags) throws NativeException
    {
        final MemorySegment c = capture();
        try
        {
            return check((int)Listen.ACCEPT4.invokeExact(c, fd, MemorySegment.NULL, MemorySegment.NULL, flags), c,
                "accept4", "fd=" + fd);
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    public static void connect(final int fd, final MemorySegment addr, final int addrLen, final String what)
        throws NativeException
    {
        callInt(Other.CONNECT, "connect", what, fd, addr, addrLen);
    }

    /**
     * @return bytes sent, or {@code -errno} (negative) without throwing, so callers can treat EAGAIN/EPIPE cheaply.
     */
    public static long sendmsgRaw(final int fd, final MemorySegment msghdr, final int flags)
    {
        final MemorySegment c = capture();
        try
        {
            final long n = (long)Serve.SENDMSG.invokeExact(c, fd, msghdr, flags);
            return n < 0 ? -errno(c) : n;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @return bytes received (0 at end of stream), or {@code -errno} (negative) without throwing.
     */
    public static long recvmsgRaw(final int fd, final MemorySegment msghdr, final int flags)
    {
        final MemorySegment c = capture();
        try
        {
            final long n = (long)Serve.RECVMSG.invokeExact(c, fd, msghdr, flags);
            return n < 0 ? -errno(c) : n;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    public static void setsockopt(final int fd, final int level, final int option, final MemorySegment value)
        throws NativeException
    {
        callInt(Listen.SETSOCKOPT, "setsockopt", "fd=" + fd + ", option=" + option, fd, level, option, value,
            (int)value.byteSize());
    }

    /**
     * @return true when {@code fd} is a socket in the listening state (SO_ACCEPTCONN).
     */
    public static boolean isListeningSocket(final int fd) throws NativeException
    {
        final MemorySegment c = capture();
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment value = arena.allocate(JAVA_INT);
            final MemorySegment length = arena.allocate(JAVA_INT);
            length.set(JAVA_INT, 0, 4);
            check((int)Listen.GETSOCKOPT.invokeExact(c, fd, SOL_SOCKET, SO_ACCEPTCONN, value, length), c, "getsockopt",
                "fd=" + fd + ", SO_ACCEPTCONN");
            return value.get(JAVA_INT, 0) != 0;
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Shuts a socket down; errors (e.g. ENOTCONN) are ignored: this is only used to wake blocked readers.
     */
    public static void shutdownQuietly(final int fd)
    {
        shutdownQuietly(fd, SHUT_RDWR);
    }

    /**
     * Shuts one or both directions of a socket down ({@code how}: {@link #SHUT_WR}, {@link #SHUT_RDWR}); errors
     * (ENOTCONN: the peer already left) are ignored.
     */
    public static void shutdownQuietly(final int fd, final int how)
    {
        final MemorySegment c = capture();
        try
        {
            final int ignored = (int)Serve.SHUTDOWN.invokeExact(c, fd, how);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    public static void close(final int fd) throws NativeException
    {
        final MemorySegment c = capture();
        try
        {
            // Never retry close on EINTR: on Linux the descriptor is already released.
            check((int)Listen.CLOSE.invokeExact(c, fd), c, "close", "fd=" + fd);
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Closes a descriptor, ignoring errors; negative values are skipped.
     */
    public static void closeQuietly(final int fd)
    {
        if (fd < 0)
        {
            return;
        }
        final MemorySegment c = capture();
        try
        {
            final int ignored = (int)Listen.CLOSE.invokeExact(c, fd);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @return bytes read (0 at end of file), or {@code -errno} without throwing; EINTR is retried.
     */
    public static long readRaw(final int fd, final long address, final long length)
    {
        final MemorySegment c = capture();
        try
        {
            while (true)
            {
                final long n = (long)Other.READ.invokeExact(c, fd, address, length);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = errno(c);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @return bytes written, or {@code -errno} without throwing; EINTR is retried.
     */
    public static long writeRaw(final int fd, final long address, final long length)
    {
        final MemorySegment c = capture();
        try
        {
            while (true)
            {
                final long n = (long)Other.WRITE.invokeExact(c, fd, address, length);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = errno(c);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code preadv2(fd, iov, iovCount, -1, flags)} at the file's current position (with {@link #RWF_NOWAIT}: a
     * read that would wait fails with EAGAIN whatever the descriptor's own flags say). A normal downcall.
     *
     * @return bytes read, or {@code -errno} without throwing (EINTR is returned, not retried).
     */
    public static long preadv2Raw(final int fd, final long iov, final int iovCount, final int flags)
    {
        final MemorySegment c = capture();
        try
        {
            final long n = (long)Serve.PREADV2.invokeExact(c, fd, iov, iovCount, -1L, flags);
            return n < 0 ? -errno(c) : n;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@link #preadv2Raw} without errno.
     *
     * @return bytes read, or -1.
     */
    public static long preadv2NoErrno(final int fd, final long iov, final int iovCount, final int flags)
    {
        try
        {
            return (long)Serve.PREADV2_NO_ERRNO.invokeExact(fd, iov, iovCount, -1L, flags);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@link #preadRaw} without errno (a normal downcall without errno capture, which may allocate when C2 does not
     * inline it): for a read per request; on failure, {@link #preadRaw} again tells why.
     *
     * @return bytes read, or -1.
     */
    public static long preadNoErrno(final int fd, final long address, final long length, final long offset)
    {
        try
        {
            return (long)Serve.PREAD_NO_ERRNO.invokeExact(fd, address, length, offset);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code poll(fds, count, timeoutMs)} on {@code struct pollfd}s at {@code fds} (8 bytes each: int fd, short
     * events, short revents). A normal downcall, without errno.
     *
     * @return the number of descriptors with events, 0 on timeout, or -1.
     */
    public static int pollNoErrno(final long fds, final int count, final int timeoutMs)
    {
        try
        {
            return (int)Serve.POLL_NO_ERRNO.invokeExact(fds, (long)count, timeoutMs);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code write(fd, address, length)}: a normal downcall, without errno and without retrying EINTR.
     *
     * @return bytes written, or -1.
     */
    public static long writeNoErrno(final int fd, final long address, final long length)
    {
        try
        {
            return (long)Serve.WRITE_NO_ERRNO.invokeExact(fd, address, length);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Adds {@code value} to a <em>non-blocking</em> eventfd's counter. A critical downcall: only for eventfds we
     * created, never for a peer's (see {@link PeerEventFd}).
     *
     * @return true on success (false: the counter would overflow, or the fd is not an eventfd).
     */
    public static boolean eventfdWrite(final int fd, final long value)
    {
        try
        {
            return (int)Serve.EVENTFD_WRITE.invokeExact(fd, value) == 0;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Reads and resets a <em>non-blocking</em> eventfd's counter into the 8 bytes at {@code address}. A critical
     * downcall: only for eventfds we created, never for a peer's (see {@link PeerEventFd}).
     *
     * @return true when a value was read (false: the counter was zero, or the fd is not an eventfd).
     */
    public static boolean eventfdRead(final int fd, final long address)
    {
        try
        {
            return (int)Serve.EVENTFD_READ.invokeExact(fd, address) == 0;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @return bytes read, or {@code -errno} without throwing; EINTR is retried.
     */
    public static long preadRaw(final int fd, final long address, final long length, final long offset)
    {
        final MemorySegment c = capture();
        try
        {
            while (true)
            {
                final long n = (long)Other.PREAD.invokeExact(c, fd, address, length, offset);
                if (n >= 0)
                {
                    return n;
                }
                final int errno = errno(c);
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @return the address of the new mapping.
     */
    public static long mmap(final long length, final int prot, final int flags, final int fd, final long offset)
        throws NativeException
    {
        final MemorySegment c = capture();
        try
        {
            final long address = (long)Other.MMAP.invokeExact(c, 0L, length, prot, flags, fd, offset);
            if (address == -1L)
            {
                throw new NativeException("mmap", errno(c), "fd=" + fd + ", length=" + length + ", offset=" + offset);
            }
            return address;
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code mmap(address, length, prot, flags, fd, offset)} for a data path: allocation-free when it succeeds (called
     * without errno capture, like {@link #ioctlRaw}; a failed call is made once more with capture to learn errno).
     *
     * @return the address of the mapping, or {@code -errno} (no mapping address is in {@code [-4095, -1]}).
     */
    public static long mmapRaw(final long address, final long length, final int prot, final int flags, final int fd,
        final long offset)
    {
        try
        {
            final long result = (long)Serve.MMAP_NO_ERRNO.invokeExact(address, length, prot, flags, fd, offset);
            if (result != -1L)
            {
                return result;
            }
            final MemorySegment c = capture();
            final long again = (long)Other.MMAP.invokeExact(c, address, length, prot, flags, fd, offset);
            return again == -1L ? -errno(c) : again;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code munmap} for a data path: allocation-free.
     *
     * @return 0, or {@code -errno}.
     */
    public static int munmapRaw(final long address, final long length)
    {
        final MemorySegment c = capture();
        try
        {
            final int result = (int)Other.MUNMAP.invokeExact(c, address, length);
            return result < 0 ? -errno(c) : result;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * {@code ioctl(fd, request, arg)} for a data path: allocation-free when it succeeds. Like {@link StreamFd}, the
     * call is made without errno capture and with the argument as a plain address (the capture segment's and the
     * argument segment's checks can allocate per call when C2 does not inline them); a failed call is made once more
     * with capture to learn errno, so use it only for requests that change nothing when they fail (the Xen grant map
     * and unmap requests). The caller keeps {@code arg} alive.
     *
     * @return the call's non-negative result, or {@code -errno}.
     */
    public static int ioctlRaw(final int fd, final long request, final MemorySegment arg)
    {
        try
        {
            final int result = (int)Serve.IOCTL_NO_ERRNO.invokeExact(fd, request, arg.address());
            if (result >= 0)
            {
                return result;
            }
            final MemorySegment c = capture();
            final int again = (int)Other.IOCTL.invokeExact(c, fd, request, arg);
            return again < 0 ? -errno(c) : again;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    public static void munmap(final long address, final long length) throws NativeException
    {
        callInt(Other.MUNMAP, "munmap", "address=0x" + Long.toHexString(address) + ", length=" + length, address,
            length);
    }

    public static int memfdCreate(final String name, final int flags) throws NativeException
    {
        final MemorySegment c = capture();
        try (Arena arena = Arena.ofConfined())
        {
            return check((int)Other.MEMFD_CREATE.invokeExact(c, arena.allocateFrom(name), flags), c, "memfd_create",
                "name=" + name);
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    public static void ftruncate(final int fd, final long length) throws NativeException
    {
        callInt(Other.FTRUNCATE, "ftruncate", "fd=" + fd + ", length=" + length, fd, length);
    }

    public static int eventfd(final int initial, final int flags) throws NativeException
    {
        return callInt(Serve.EVENTFD, "eventfd", "", initial, flags);
    }

    public static int epollCreate1(final int flags) throws NativeException
    {
        return callInt(Serve.EPOLL_CREATE1, "epoll_create1", "", flags);
    }

    /**
     * {@code epoll_ctl} with {@code event} in native memory. Allocation-free when it succeeds (a device may change a
     * socket's mask on its data path, e.g. vsock's {@code EPOLLOUT} while a host reader is behind): without errno
     * capture and without the failure's text; a failed call is made again with errno captured, for the exception.
     */
    public static void epollCtl(final int epfd, final int op, final int fd, final MemorySegment event)
        throws NativeException
    {
        final int r;
        try
        {
            r = (int)Serve.EPOLL_CTL_NO_ERRNO.invokeExact(epfd, op, fd, event.address());
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (r != 0)
        {
            callInt(Serve.EPOLL_CTL, "epoll_ctl", "epfd=" + epfd + ", op=" + op + ", fd=" + fd, epfd, op, fd, event);
        }
    }

    /**
     * @return the number of ready events, 0 on timeout or EINTR.
     */
    public static int epollWait(final int epfd, final MemorySegment events, final int maxEvents, final int timeoutMs)
        throws NativeException
    {
        try
        {
            final int first = (int)Serve.EPOLL_WAIT_NO_ERRNO.invokeExact(epfd, events, maxEvents, timeoutMs);
            if (first >= 0)
            {
                return first;
            }
            // Failed (a signal, a bad descriptor): ask again without waiting, now learning errno.
            final MemorySegment c = capture();
            final int n = (int)Serve.EPOLL_WAIT.invokeExact(c, epfd, events, maxEvents, 0);
            if (n < 0)
            {
                final int errno = errno(c);
                if (errno == Errno.EINTR)
                {
                    return 0;
                }
                throw new NativeException("epoll_wait", errno, "epfd=" + epfd);
            }
            return n;
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * @param stat a segment of at least {@link #STAT_SIZE} bytes.
     */
    public static void fstat(final int fd, final MemorySegment stat) throws NativeException
    {
        callInt(Listen.FSTAT, "fstat", "fd=" + fd, fd, stat);
    }

    /**
     * @return {@code st_size} of the file behind {@code fd}.
     */
    public static long fileSize(final int fd) throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment stat = arena.allocate(STAT_SIZE, 8);
            fstat(fd, stat);
            return stat.get(JAVA_LONG, STAT_SIZE_OFFSET);
        }
    }

    /**
     * @return {@code st_mode} of the file behind {@code fd}.
     */
    public static int fileMode(final int fd) throws NativeException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment stat = arena.allocate(STAT_SIZE, 8);
            fstat(fd, stat);
            return stat.get(JAVA_INT, STAT_MODE_OFFSET);
        }
    }

    public static int fcntl(final int fd, final int cmd, final int arg) throws NativeException
    {
        return callInt(Listen.FCNTL, "fcntl", "fd=" + fd + ", cmd=" + cmd, fd, cmd, arg);
    }

    /**
     * {@code ioctl(fd, request, arg)}: {@code int ioctl(int, unsigned long, ...)} with one variadic argument, a
     * pointer (a buffer the kernel reads or fills) or, for requests that take a plain integer, that integer as an
     * address ({@code MemorySegment.ofAddress(value)}). Cold path: the call boxes its arguments.
     *
     * @return the non-negative result (for many requests, the bytes the kernel copied).
     * @throws NativeException naming the request in hex and the fd when the call fails.
     */
    public static int ioctl(final int fd, final long request, final MemorySegment arg) throws NativeException
    {
        return callInt(Other.IOCTL, "ioctl", "fd=" + fd + ", request=0x" + Long.toHexString(request), fd, request, arg);
    }

    /**
     * @return true when {@code fd} refers to an open descriptor.
     */
    public static boolean isOpen(final int fd)
    {
        try
        {
            fcntl(fd, F_GETFD, 0);
            return true;
        }
        catch (final NativeException e)
        {
            return false;
        }
    }

    public static void setNonBlocking(final int fd, final boolean nonBlocking) throws NativeException
    {
        final int flags = fcntl(fd, F_GETFL, 0);
        fcntl(fd, F_SETFL, nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
    }

    public static int open(final String path, final int flags) throws NativeException
    {
        final MemorySegment c = capture();
        try (Arena arena = Arena.ofConfined())
        {
            return check((int)Other.OPEN.invokeExact(c, arena.allocateFrom(path), flags, 0), c, "open", "path=" + path);
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }

    /**
     * Removes a file; a missing file is not an error.
     */
    public static void unlinkIfExists(final String path) throws NativeException
    {
        final MemorySegment c = capture();
        try (Arena arena = Arena.ofConfined())
        {
            final int r = (int)Listen.UNLINK.invokeExact(c, arena.allocateFrom(path));
            if (r < 0 && errno(c) != Errno.ENOENT)
            {
                throw new NativeException("unlink", errno(c), "path=" + path);
            }
        }
        catch (final NativeException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
    }
}
