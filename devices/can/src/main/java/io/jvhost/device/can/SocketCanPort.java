package io.jvhost.device.can;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import io.jvhost.device.DeviceContext;
import io.jvhost.device.FdWatch;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.can.wire.SocketCanFrame;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A host SocketCAN interface ({@code can0}, {@code vcan0}) through a raw CAN socket made with FFM:
 * {@code socket(PF_CAN, SOCK_RAW, CAN_RAW)} bound to the interface, with {@code CAN_RAW_FD_FRAMES} when the interface's MTU is CAN FD's (72),
 * and {@code CAN_RAW_ERR_FILTER} for bus-off error frames only. As with vhost-device-can, the interface must be
 * configured and up already (its bitrate is the host's business); one that is down is logged, and its transmissions are
 * refused with the kernel's errno ({@code ENETDOWN}).
 * <p>
 * Frames are read on the device's RX worker through {@link DeviceContext#watch} (no thread of our own) and written
 * with one {@code write(2)} each, without blocking: a full transmit queue refuses the frame ({@code ENOBUFS}), which
 * the device answers NOT_OK. The socket does not see its own frames (SocketCAN's default), so the guest's frames do not
 * come back to it. A received bus-off error frame stops the device's controller ({@link Receiver#busOff()}).
 */
public final class SocketCanPort implements CanPort
{
    static final int PF_CAN = 29;
    static final int SOCK_RAW = 3;
    static final int CAN_RAW = 1;
    static final int SOL_CAN_RAW = 101;
    static final int CAN_RAW_ERR_FILTER = 2;
    static final int CAN_RAW_FD_FRAMES = 5;
    static final int ARPHRD_CAN = 280;
    static final long SIOCGIFINDEX = 0x8933;
    /** {@code struct sockaddr_can}: family, pad, ifindex, then the transport-protocol addresses. */
    static final int SOCKADDR_CAN_SIZE = 24;
    /** {@code struct ifreq}: name[16], then the union (an int ifindex for SIOCGIFINDEX). */
    static final int IFREQ_SIZE = 40;
    static final int IFNAMSIZ = 16;
    static final int IFF_UP = 1;
    private static final int SOCK_DGRAM = 2;
    /** Frames read per wake-up before the watch gives the worker back (it is level-triggered: the rest follow). */
    private static final int READ_BATCH = 64;

    private static final System.Logger LOG = System.getLogger(SocketCanPort.class.getName());

    private final String name;
    private final int fd;
    private final boolean fdFrames;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment txBuf = arena.allocate(SocketCanFrame.CANFD_MTU, 8);
    private final MemorySegment rxBuf = arena.allocate(SocketCanFrame.CANFD_MTU, 8);
    private final SocketCanFrame txFrame = new SocketCanFrame();
    private final SocketCanFrame rxFrame = new SocketCanFrame();
    private final CanFrame received = new CanFrame();
    private volatile Receiver receiver;
    private FdWatch watch;
    private long readErrors;
    private long odd;
    private boolean closed;

    /**
     * A port on a descriptor that behaves as a raw CAN socket (one frame per read and write); for tests, a
     * {@code SOCK_SEQPACKET} socket pair.
     */
    SocketCanPort(final String name, final int fd, final boolean fdFrames)
    {
        this.name = name;
        this.fd = fd;
        this.fdFrames = fdFrames;
        txFrame.wrap(txBuf);
        rxFrame.wrap(rxBuf);
    }

    /**
     * Opens interface {@code ifname}.
     *
     * @throws IOException naming the interface and what failed: no such interface, not a CAN interface, a host kernel
     *                     without SocketCAN, or the call and its errno.
     */
    public static SocketCanPort open(final String ifname) throws IOException
    {
        checkName(ifname);
        final int index = interfaceIndex(ifname);
        final Path sys = Path.of("/sys/class/net", ifname);
        final int type = sysfsInt(sys.resolve("type"));
        if (type != ARPHRD_CAN)
        {
            throw new IOException("SocketCAN interface " + ifname + ": not a CAN interface (its link type is " + type
                + ", CAN's is " + ARPHRD_CAN + ")");
        }
        final int mtu = sysfsInt(sys.resolve("mtu"));
        final boolean fd = mtu == SocketCanFrame.CANFD_MTU;
        if ((sysfsInt(sys.resolve("flags")) & IFF_UP) == 0)
        {
            LOG.log(Level.WARNING, "SocketCAN interface " + ifname + " is down: its frames are refused until it is up"
                + " (ip link set " + ifname + " up type can bitrate ...)");
        }
        final int s = openSocket(ifname);
        try (Arena a = Arena.ofConfined())
        {
            final MemorySegment one = a.allocate(ValueLayout.JAVA_INT);
            if (fd)
            {
                one.set(ValueLayout.JAVA_INT, 0, 1);
                LibC.setsockopt(s, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, one);
            }
            one.set(ValueLayout.JAVA_INT, 0, SocketCanFrame.CAN_ERR_BUSOFF);
            LibC.setsockopt(s, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, one);
            final MemorySegment addr = a.allocate(SOCKADDR_CAN_SIZE, 4);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short)PF_CAN);
            addr.set(ValueLayout.JAVA_INT, 4, index);
            LibC.bind(s, addr, SOCKADDR_CAN_SIZE, "SocketCAN interface " + ifname + " (ifindex " + index + ")");
        }
        catch (final NativeException e)
        {
            LibC.closeQuietly(s);
            throw new IOException("SocketCAN interface " + ifname + ": " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "SocketCAN interface " + ifname + " (ifindex " + index + ", MTU " + mtu + ", "
            + (fd ? "CAN FD" : "classic CAN only") + ") opened");
        return new SocketCanPort(ifname, s, fd);
    }

    /**
     * Linux's rule for interface names (dev_valid_name): 1..15 bytes, not {@code .} or {@code ..}, no {@code /},
     * {@code :} or white space.
     */
    static void checkName(final String ifname) throws IOException
    {
        final byte[] b = ifname.getBytes(StandardCharsets.UTF_8);
        boolean bad = b.length == 0 || b.length >= IFNAMSIZ || ".".equals(ifname) || "..".equals(ifname);
        for (final byte c : b)
        {
            bad |= c == '/' || c == ':' || c <= ' ';
        }
        if (bad)
        {
            throw new IOException("'" + ifname + "' is not a network interface name (1 to 15 bytes, without '/', ':'"
                + " or white space)");
        }
    }

    /**
     * {@code ioctl(SIOCGIFINDEX)} on a throw-away datagram socket (any socket answers it).
     *
     * @throws IOException "no network interface NAME" when the kernel says ENODEV.
     */
    static int interfaceIndex(final String ifname) throws IOException
    {
        final int s = LibC.socket(LibC.AF_UNIX, SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined())
        {
            final MemorySegment ifreq = a.allocate(IFREQ_SIZE, 8);
            MemorySegment.copy(ifname.getBytes(StandardCharsets.UTF_8), 0, ifreq, ValueLayout.JAVA_BYTE, 0,
                ifname.length());
            LibC.ioctl(s, SIOCGIFINDEX, ifreq);
            return ifreq.get(ValueLayout.JAVA_INT, IFNAMSIZ);
        }
        catch (final NativeException e)
        {
            if (e.errno() == 19)
            {
                throw new IOException("SocketCAN interface " + ifname + ": no such network interface (SIOCGIFINDEX: "
                    + e.errnoName() + ")", e);
            }
            throw new IOException("SocketCAN interface " + ifname + ": " + e.getMessage(), e);
        }
        finally
        {
            LibC.closeQuietly(s);
        }
    }

    /**
     * {@code socket(PF_CAN, SOCK_RAW, CAN_RAW)}, non-blocking.
     *
     * @throws IOException saying the host kernel has no SocketCAN when it answers EAFNOSUPPORT (or EPROTONOSUPPORT:
     *                     {@code can} without {@code can_raw}).
     */
    static int openSocket(final String ifname) throws IOException
    {
        try
        {
            return LibC.socket(PF_CAN, SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, CAN_RAW);
        }
        catch (final NativeException e)
        {
            final String hint = e.errno() == 97 ? ": the host kernel has no SocketCAN (modules can and can_raw)"
                : e.errno() == 93 ? ": the host kernel has no raw CAN sockets (module can_raw)" : "";
            throw new IOException("SocketCAN interface " + ifname + ": socket(PF_CAN, SOCK_RAW, CAN_RAW) failed: "
                + e.errnoName() + " (" + e.errno() + ")" + hint, e);
        }
    }

    private static int sysfsInt(final Path file) throws IOException
    {
        try
        {
            final String s = Files.readString(file).strip();
            return s.startsWith("0x") ? Integer.parseUnsignedInt(s.substring(2), 16) : Integer.parseInt(s);
        }
        catch (final NoSuchFileException e)
        {
            throw new IOException("cannot read " + file + ": no such file", e);
        }
        catch (final NumberFormatException e)
        {
            throw new IOException("cannot read " + file + ": not a number", e);
        }
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public boolean canFd()
    {
        return fdFrames;
    }

    @Override
    public void bind(final Receiver r)
    {
        receiver = r;
    }

    @Override
    public int transmit(final CanFrame frame)
    {
        final int size = txFrame.encode(frame);
        final long n = LibC.writeRaw(fd, txBuf.address(), size);
        if (n < 0)
        {
            return (int)-n;
        }
        return n == size ? 0 : Errno.EIO;
    }

    @Override
    public synchronized void attach(final DeviceContext context)
    {
        if (null != watch || closed)
        {
            return;
        }
        watch = context.watch(CanDevice.RX_QUEUE, fd, this::drain);
        if (null == watch)
        {
            LOG.log(Level.WARNING, name + ": this transport cannot watch the CAN socket; received frames are not"
                + " delivered");
        }
    }

    @Override
    public void detach()
    {
        final FdWatch w;
        synchronized (this)
        {
            w = watch;
            watch = null;
        }
        if (null != w)
        {
            w.close();
        }
    }

    /**
     * Reads the frames waiting on the socket (up to a batch) and hands them to the receiver. Runs on the watch.
     */
    void drain()
    {
        for (int i = 0; i < READ_BATCH; i++)
        {
            final long n = LibC.readRaw(fd, rxBuf.address(), SocketCanFrame.CANFD_MTU);
            if (n == -Errno.EAGAIN || n == 0)
            {
                return;
            }
            if (n < 0)
            {
                if (LogThrottle.due(++readErrors))
                {
                    LOG.log(Level.WARNING, name + ": reading the CAN socket failed: " + Errno.name((int)-n) + " ("
                        + readErrors + " errors so far)");
                }
                // A socket error (e.g. ENETDOWN) is reported once, by this read.
                return;
            }
            final int kind = rxFrame.decode((int)n, received);
            final Receiver r = receiver;
            if (kind == SocketCanFrame.BUS_OFF)
            {
                if (null != r)
                {
                    r.busOff();
                }
            }
            else if (kind == SocketCanFrame.FRAME)
            {
                if (null != r)
                {
                    r.receive(received);
                }
            }
            else if (kind == SocketCanFrame.ODD)
            {
                if (LogThrottle.due(++odd))
                {
                    LOG.log(Level.WARNING, name + ": ignored a " + n + "-byte read from the CAN socket (neither a CAN"
                        + " frame of 16 bytes nor a CAN FD frame of 72, or its length is out of range; " + odd
                        + " so far)");
                }
            }
        }
    }

    @Override
    public void close()
    {
        detach();
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        LibC.closeQuietly(fd);
        arena.close();
    }
}
