package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.memory.xen.XenSyscalls;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;

/**
 * Event channels through {@code /dev/xen/evtchn} (Linux's xen/evtchn.h), as libxenevtchn uses it: a bound port that
 * fires becomes readable as a {@code u32} port number and stays masked until the port is written back.
 *
 * <pre>
 * IOCTL_EVTCHN_BIND_INTERDOMAIN = _IOC(_IOC_NONE, 'E', 1, 8) = 0x00084501  { u32 remote_domain; u32 remote_port; }
 *                                                                          returns the local port
 * IOCTL_EVTCHN_UNBIND           = _IOC(_IOC_NONE, 'E', 3, 4) = 0x00044503  { u32 port; }
 * IOCTL_EVTCHN_NOTIFY           = _IOC(_IOC_NONE, 'E', 4, 4) = 0x00044504  { u32 port; }
 * read(fd, u32[n])  pending ports        write(fd, u32[n])  unmask them
 * </pre>
 * The descriptor is opened non-blocking, for an epoll loop. {@link #notify}, {@link #pending} and {@link #unmask}
 * allocate nothing. One thread at a time.
 */
public final class EventChannels implements AutoCloseable
{
    public static final long IOCTL_EVTCHN_BIND_INTERDOMAIN = 0x0008_4501L;
    public static final long IOCTL_EVTCHN_UNBIND = 0x0004_4503L;
    public static final long IOCTL_EVTCHN_NOTIFY = 0x0004_4504L;
    private static final int O_RDWR = 2;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_CLOEXEC = 0x80000;
    private static final int MAX_PENDING = 64;

    private final XenSyscalls sys;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment arg = arena.allocate(8, 8);
    private final MemorySegment ports = arena.allocate(4L * MAX_PENDING, 8);

    private EventChannels(final XenSyscalls sys, final int fd)
    {
        this.sys = sys;
        this.fd = fd;
    }

    public static EventChannels open() throws Exception
    {
        return new EventChannels(XenSyscalls.LINUX, LibC.open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    }

    public int fd()
    {
        return fd;
    }

    /** Binds our end to {@code remoteDomain}'s {@code remotePort}. @return the local port. */
    public int bindInterdomain(final int remoteDomain, final int remotePort) throws XenException
    {
        arg.set(ValueLayout.JAVA_INT, 0, remoteDomain);
        arg.set(ValueLayout.JAVA_INT, 4, remotePort);
        final int rc = sys.ioctl(fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, arg);
        if (rc < 0)
        {
            throw new XenException("IOCTL_EVTCHN_BIND_INTERDOMAIN (domain " + remoteDomain + ", port " + remotePort
                + ") failed: " + Errno.name(-rc));
        }
        return rc;
    }

    /** @return 0 or {@code -errno}. */
    public int notify(final int localPort)
    {
        arg.set(ValueLayout.JAVA_INT, 0, localPort);
        final int rc = sys.ioctl(fd, IOCTL_EVTCHN_NOTIFY, arg);
        return rc < 0 ? rc : 0;
    }

    public void unbind(final int localPort)
    {
        arg.set(ValueLayout.JAVA_INT, 0, localPort);
        sys.ioctl(fd, IOCTL_EVTCHN_UNBIND, arg);
    }

    /**
     * Reads the ports that fired (non-blocking).
     *
     * @return how many ({@link #port(int)} gives each), 0 when none, or {@code -errno}.
     */
    public int pending()
    {
        final long n = LibC.readRaw(fd, ports.address(), ports.byteSize());
        if (n < 0)
        {
            return n == -Errno.EAGAIN ? 0 : (int)n;
        }
        return (int)(n / 4);
    }

    public int port(final int i)
    {
        return ports.getAtIndex(ValueLayout.JAVA_INT, i);
    }

    /** Unmasks the {@code count} ports {@link #pending} returned. @return 0 or {@code -errno}. */
    public int unmask(final int count)
    {
        final long n = LibC.writeRaw(fd, ports.address(), 4L * count);
        return n < 0 ? (int)n : 0;
    }

    @Override
    public void close()
    {
        LibC.closeQuietly(fd);
    }
}
