package io.jvhost.device.input;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A host evdev device ({@code /dev/input/eventN}) passed through to a guest: its capabilities are read with the
 * evdev ioctls ({@link EvdevIoctl}), its events are read on their own thread ({@link EvdevReader}) and forwarded to
 * an {@link InputSink} (the {@link InputDevice}), and the LED and sound events the guest sends back on the status
 * queue are written to it ({@link #status}), so Caps Lock pressed in the guest lights the host keyboard's LED.
 * <p>
 * The device is opened read-write (read-only when writing is not permitted: LEDs then stay untouched) and
 * non-blocking. Force feedback ({@code EV_FF}, {@code EV_FF_STATUS}) and {@code EV_PWR} are not passed through:
 * Linux's virtio-input driver implements neither.
 */
public final class EvdevSource implements StatusListener, AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(EvdevSource.class.getName());
    /** Longest name, serial or bitmap asked of the kernel. */
    private static final int QUERY_SIZE = 256;

    private final String path;
    private final int fd;
    private final boolean writable;
    private final InputCapabilities capabilities;
    private final Arena arena = Arena.ofShared();
    /** Two input_events (the status event and a SYN_REPORT) written back by {@link #status}. */
    private final MemorySegment writeBack = arena.allocate(2L * EvdevReader.INPUT_EVENT_SIZE, 8);
    private EvdevReader reader;
    private boolean closed;
    private long writeFailures;

    private EvdevSource(final String path, final int fd, final boolean writable, final InputCapabilities capabilities)
    {
        this.path = path;
        this.fd = fd;
        this.writable = writable;
        this.capabilities = capabilities;
    }

    /**
     * Opens {@code path} and reads its capabilities.
     *
     * @param grab take the device for this process alone ({@code EVIOCGRAB}): the host stops seeing its events.
     * @throws IOException naming the path and the errno when it cannot be opened, is not an evdev device, or cannot
     *                     be grabbed.
     */
    public static EvdevSource open(final String path, final boolean grab) throws IOException
    {
        int fd;
        boolean writable = true;
        try
        {
            fd = LibC.open(path, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        }
        catch (final NativeException e)
        {
            if (e.errno() != Errno.EACCES && e.errno() != Errno.EPERM && e.errno() != 30 /* EROFS */)
            {
                throw new IOException("cannot open input device " + path + ": " + e.errnoName(), e);
            }
            try
            {
                fd = LibC.open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
                writable = false;
            }
            catch (final NativeException e2)
            {
                throw new IOException("cannot open input device " + path + ": " + e2.errnoName(), e2);
            }
        }
        try (Arena scratch = Arena.ofConfined())
        {
            final InputCapabilities capabilities = readCapabilities(fd, path, scratch.allocate(QUERY_SIZE, 8));
            if (grab)
            {
                try
                {
                    LibC.ioctl(fd, EvdevIoctl.EVIOCGRAB, MemorySegment.ofAddress(1));
                }
                catch (final NativeException e)
                {
                    throw new IOException("cannot grab input device " + path + ": " + e.errnoName()
                        + (e.errno() == Errno.EBUSY ? " (another program has grabbed it)" : ""), e);
                }
            }
            if (!writable)
            {
                LOG.log(Level.WARNING, path + ": opened read-only, the guest's LED changes will not be shown on it");
            }
            return new EvdevSource(path, fd, writable, capabilities);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Asks the kernel what the device sends.
     *
     * @param buffer at least {@link #QUERY_SIZE} bytes of native memory.
     */
    static InputCapabilities readCapabilities(final int fd, final String path, final MemorySegment buffer)
        throws IOException
    {
        try
        {
            LibC.ioctl(fd, EvdevIoctl.EVIOCGVERSION, buffer);
        }
        catch (final NativeException e)
        {
            throw new IOException(path + " is not an evdev input device (EVIOCGVERSION failed: " + e.errnoName()
                + ")", e);
        }
        String name = queryString(fd, EvdevIoctl.eviocgname(QUERY_SIZE), buffer);
        if (name.isEmpty())
        {
            name = "evdev " + path;
        }
        final InputCapabilities.Builder b = InputCapabilities.builder(name)
            .serial(queryString(fd, EvdevIoctl.eviocguniq(QUERY_SIZE), buffer));
        try
        {
            LibC.ioctl(fd, EvdevIoctl.EVIOCGID, buffer);
            b.ids(buffer.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0) & 0xFFFF,
                buffer.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2) & 0xFFFF,
                buffer.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4) & 0xFFFF,
                buffer.get(ValueLayout.JAVA_SHORT_UNALIGNED, 6) & 0xFFFF);
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot read the ids of input device " + path + ": " + e.errnoName(), e);
        }
        final byte[] bits = new byte[InputCapabilities.UNION_SIZE];
        final int typesLength = queryBits(fd, EvdevIoctl.eviocgbit(0, 4), buffer, bits, path, "event types");
        for (int type = 1; type <= InputCodes.EV_MAX; type++)
        {
            if (type >= typesLength * 8 || 0 == (bits[type >>> 3] & (1 << (type & 7))))
            {
                continue;
            }
            if (type == InputSink.EV_ABS)
            {
                continue; // below, axis by axis with their ranges
            }
            if (type == InputCodes.EV_FF || type == InputCodes.EV_FF_STATUS || type == InputCodes.EV_PWR)
            {
                LOG.log(Level.DEBUG, path + ": " + InputCodes.typeName(type) + " not passed through");
                continue;
            }
            final byte[] codes = new byte[InputCapabilities.UNION_SIZE];
            final int n = queryBits(fd, EvdevIoctl.eviocgbit(type, InputCapabilities.UNION_SIZE), buffer, codes, path,
                InputCodes.typeName(type) + " codes");
            b.bitmap(type, codes, n);
        }
        try
        {
            final int n = LibC.ioctl(fd, EvdevIoctl.eviocgprop(InputCapabilities.UNION_SIZE), buffer);
            final byte[] props = new byte[InputCapabilities.UNION_SIZE];
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, props, 0, Math.min(n, props.length));
            b.properties(props, n);
        }
        catch (final NativeException e)
        {
            LOG.log(Level.DEBUG, path + ": no input properties (EVIOCGPROP: " + e.errnoName() + ")");
        }
        if (supportsType(bits, typesLength, InputSink.EV_ABS))
        {
            final byte[] axes = new byte[InputCapabilities.UNION_SIZE];
            queryBits(fd, EvdevIoctl.eviocgbit(InputSink.EV_ABS, InputCapabilities.UNION_SIZE), buffer, axes, path,
                "EV_ABS codes");
            b.eventType(InputSink.EV_ABS);
            for (int axis = 0; axis <= InputCodes.ABS_MAX; axis++)
            {
                if (0 == (axes[axis >>> 3] & (1 << (axis & 7))))
                {
                    continue;
                }
                try
                {
                    LibC.ioctl(fd, EvdevIoctl.eviocgabs(axis), buffer);
                    final int min = buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 4);
                    final int max = buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
                    b.abs(axis, new InputCapabilities.AbsInfo(min, Math.max(min, max),
                        buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 12), buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 16),
                        buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 20)));
                }
                catch (final NativeException e)
                {
                    LOG.log(Level.WARNING, path + ": absolute axis 0x" + Integer.toHexString(axis)
                        + " left out, its range cannot be read (EVIOCGABS: " + e.errnoName() + ")");
                }
            }
        }
        return b.build();
    }

    private static boolean supportsType(final byte[] typeBits, final int length, final int type)
    {
        return type < length * 8 && 0 != (typeBits[type >>> 3] & (1 << (type & 7)));
    }

    private static String queryString(final int fd, final long request, final MemorySegment buffer)
    {
        try
        {
            buffer.fill((byte)0);
            final int n = LibC.ioctl(fd, request, buffer);
            int end = 0;
            while (end < Math.min(n, QUERY_SIZE) && buffer.get(ValueLayout.JAVA_BYTE, end) != 0)
            {
                end++;
            }
            return new String(buffer.asSlice(0, end).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
        catch (final NativeException e)
        {
            return ""; // ENOENT: the device has none
        }
    }

    private static int queryBits(final int fd, final long request, final MemorySegment buffer, final byte[] into,
        final String path, final String what) throws IOException
    {
        try
        {
            buffer.fill((byte)0);
            final int n = Math.min(LibC.ioctl(fd, request, buffer), into.length);
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, into, 0, n);
            return n;
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot read the " + what + " of input device " + path + ": " + e.errnoName(), e);
        }
    }

    public String path()
    {
        return path;
    }

    /**
     * @return what the device sends, as the guest will see it.
     */
    public InputCapabilities capabilities()
    {
        return capabilities;
    }

    /**
     * @return false when the device was opened read-only (LED changes are not shown on it).
     */
    public boolean writable()
    {
        return writable;
    }

    /**
     * Starts forwarding the device's events to {@code sink} on a thread of its own.
     */
    public synchronized void start(final InputSink sink) throws NativeException
    {
        if (closed)
        {
            throw new IllegalStateException(path + " is closed");
        }
        if (null != reader)
        {
            throw new IllegalStateException(path + " is already forwarding its events");
        }
        reader = new EvdevReader(path, fd, Objects.requireNonNull(sink, "sink")).start();
    }

    /**
     * @return events forwarded so far.
     */
    public synchronized long forwardedEvents()
    {
        return null == reader ? 0 : reader.forwardedEvents();
    }

    /**
     * Shows the guest's LED (and sound) changes on the host device: writes the event and a SYN_REPORT to it. Other
     * status events (key-repeat settings) stay in the guest. Called on the device's worker; does not block.
     */
    @Override
    public synchronized void status(final int type, final int code, final int value)
    {
        if (closed || !writable || (type != InputSink.EV_LED && type != InputCodes.EV_SND)
            || !capabilities.supports(type, code))
        {
            return;
        }
        writeBack.fill((byte)0);
        writeBack.set(ValueLayout.JAVA_SHORT_UNALIGNED, 16, (short)type);
        writeBack.set(ValueLayout.JAVA_SHORT_UNALIGNED, 18, (short)code);
        writeBack.set(ValueLayout.JAVA_INT_UNALIGNED, 20, value);
        // The second record stays all zero: EV_SYN / SYN_REPORT / 0.
        final long n = LibC.writeRaw(fd, writeBack.address(), writeBack.byteSize());
        if (n != writeBack.byteSize() && LogThrottle.due(++writeFailures))
        {
            LOG.log(Level.WARNING, path + ": writing " + InputCodes.typeName(type) + " code " + code + " value "
                + value + " to the device failed: " + (n < 0 ? Errno.name((int)-n) : "short write of " + n + " bytes")
                + " (" + writeFailures + " so far)");
        }
    }

    /**
     * Stops the reader and closes the device (which also releases a grab).
     */
    @Override
    public void close()
    {
        final EvdevReader r;
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            r = reader;
        }
        if (null != r)
        {
            r.close();
        }
        LibC.closeQuietly(fd);
        arena.close();
    }

    @Override
    public String toString()
    {
        return path + ": " + capabilities;
    }
}
