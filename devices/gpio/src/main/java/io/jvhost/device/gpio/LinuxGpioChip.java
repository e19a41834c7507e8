package io.jvhost.device.gpio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.IntConsumer;

import io.jvhost.os.Errno;
import io.jvhost.os.Ioctl;
import io.jvhost.os.IoctlCall;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A host GPIO chip through Linux's GPIO character device, uAPI v2, with ioctls made through FFM (no libgpiod):
 * GPIO_GET_CHIPINFO for the line count, GPIO_V2_GET_LINEINFO for each line's name and direction; a line the guest
 * sets to input or output is requested (GPIO_V2_GET_LINE, consumer {@code jvhost}) and kept until it sets
 * direction none; values go through GPIO_V2_LINE_SET_VALUES/GET_VALUES on that request, interrupt types through
 * GPIO_V2_LINE_SET_CONFIG with the edge flags. Edge events are read from the request's descriptor by one thread per
 * armed line (a {@code poll} with a short timeout, so disarming ends it). Level-triggered interrupts have no
 * character-device form and are refused, as in vhost-device-gpio.
 */
public final class LinuxGpioChip implements GpioChip
{
    static final long GPIO_GET_CHIPINFO_IOCTL = 0x8044B401L;
    static final long GPIO_V2_GET_LINEINFO_IOCTL = 0xC100B405L;
    static final long GPIO_V2_GET_LINE_IOCTL = 0xC250B407L;
    static final long GPIO_V2_LINE_SET_CONFIG_IOCTL = 0xC110B40DL;
    static final long GPIO_V2_LINE_GET_VALUES_IOCTL = 0xC010B40EL;
    static final long GPIO_V2_LINE_SET_VALUES_IOCTL = 0xC010B40FL;

    static final long FLAG_USED = 1;
    static final long FLAG_INPUT = 1 << 2;
    static final long FLAG_OUTPUT = 1 << 3;
    static final long FLAG_EDGE_RISING = 1 << 4;
    static final long FLAG_EDGE_FALLING = 1 << 5;

    static final int ATTR_ID_OUTPUT_VALUES = 2;

    /** {@code struct gpiochip_info}: name[32], label[32], u32 lines. */
    static final int CHIPINFO_SIZE = 68;
    /** {@code struct gpio_v2_line_info}: name[32], consumer[32], u32 offset, u32 num_attrs, u64 flags, attrs[10]. */
    static final int LINEINFO_SIZE = 256;
    /** {@code struct gpio_v2_line_config}: u64 flags, u32 num_attrs, padding[5], attrs[10] of 24 bytes. */
    static final int CONFIG_SIZE = 272;
    /** {@code struct gpio_v2_line_request}: offsets[64], consumer[32], config, u32 num_lines, event_buffer_size,
     *  padding[5], s32 fd. */
    static final int REQUEST_SIZE = 592;
    static final int REQUEST_CONSUMER = 256;
    static final int REQUEST_CONFIG = 288;
    static final int REQUEST_NUM_LINES = 560;
    static final int REQUEST_FD = 588;
    /** {@code struct gpio_v2_line_event}: u64 timestamp_ns, u32 id, u32 offset, u32 seqno, u32 line_seqno, pad[6]. */
    static final int EVENT_SIZE = 48;

    private static final System.Logger LOG = System.getLogger(LinuxGpioChip.class.getName());

    private final String path;
    private final int fd;
    private final IoctlCall ioctl;
    private final String[] names;
    private final int[] directions;
    private final int[] lineFds;
    private final int[] outputValues;
    private final Thread[] watchers;
    private final int[] irqTypes;
    private final MemorySegment values;
    private final MemorySegment request;
    private final MemorySegment config;
    private volatile IntConsumer listener = line -> { };
    private volatile boolean closed;

    LinuxGpioChip(final String path, final int fd, final IoctlCall ioctl) throws IOException
    {
        this.path = path;
        this.fd = fd;
        this.ioctl = ioctl;
        final Arena arena = Arena.ofAuto();
        values = arena.allocate(16, 8);
        request = arena.allocate(REQUEST_SIZE, 8);
        config = arena.allocate(CONFIG_SIZE, 8);
        final MemorySegment info = arena.allocate(CHIPINFO_SIZE, 8);
        int rc = ioctl.call(fd, GPIO_GET_CHIPINFO_IOCTL, info);
        if (rc < 0)
        {
            throw new IOException(path + ": GPIO_GET_CHIPINFO failed: " + Errno.name(-rc));
        }
        final int lines = info.get(ValueLayout.JAVA_INT, 64);
        if (lines < 1 || lines > 0xFFFF)
        {
            throw new IOException(path + " reports " + lines + " lines; virtio-gpio takes 1..65535");
        }
        names = new String[lines];
        directions = new int[lines];
        lineFds = new int[lines];
        outputValues = new int[lines];
        watchers = new Thread[lines];
        irqTypes = new int[lines];
        java.util.Arrays.fill(lineFds, -1);
        final MemorySegment lineInfo = arena.allocate(LINEINFO_SIZE, 8);
        for (int i = 0; i < lines; i++)
        {
            lineInfo.fill((byte)0);
            lineInfo.set(ValueLayout.JAVA_INT, 64, i);
            rc = ioctl.call(fd, GPIO_V2_GET_LINEINFO_IOCTL, lineInfo);
            if (rc < 0)
            {
                throw new IOException(path + ": GPIO_V2_GET_LINEINFO of line " + i + " failed: " + Errno.name(-rc));
            }
            names[i] = cString(lineInfo, 0, 32);
            final long flags = lineInfo.get(ValueLayout.JAVA_LONG, 72);
            directions[i] = (flags & FLAG_OUTPUT) != 0 ? DIRECTION_OUT : (flags & FLAG_INPUT) != 0 ? DIRECTION_IN
                : DIRECTION_NONE;
        }
    }

    /**
     * Opens {@code /dev/gpiochipN}.
     */
    public static LinuxGpioChip open(final int number) throws IOException
    {
        return open(Path.of("/dev/gpiochip" + number), new Ioctl());
    }

    static LinuxGpioChip open(final Path device, final IoctlCall ioctl) throws IOException
    {
        final int fd;
        try
        {
            fd = LibC.open(device.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot open GPIO chip " + device + ": " + Errno.name(e.errno()), e);
        }
        try
        {
            return new LinuxGpioChip(device.toString(), fd, ioctl);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    private static String cString(final MemorySegment s, final int offset, final int max)
    {
        int n = 0;
        while (n < max && s.get(ValueLayout.JAVA_BYTE, offset + n) != 0)
        {
            n++;
        }
        return new String(s.asSlice(offset, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    @Override
    public int lineCount()
    {
        return names.length;
    }

    @Override
    public String name(final int line)
    {
        return names[line];
    }

    @Override
    public synchronized int direction(final int line)
    {
        return directions[line];
    }

    private long flagsFor(final int line, final int direction)
    {
        long flags = direction == DIRECTION_OUT ? FLAG_OUTPUT : FLAG_INPUT;
        if (direction != DIRECTION_OUT)
        {
            if ((irqTypes[line] & IRQ_EDGE_RISING) != 0)
            {
                flags |= FLAG_EDGE_RISING;
            }
            if ((irqTypes[line] & IRQ_EDGE_FALLING) != 0)
            {
                flags |= FLAG_EDGE_FALLING;
            }
        }
        return flags;
    }

    /**
     * Fills {@code cfg} (a struct gpio_v2_line_config) with {@code flags} and, for an output, its initial value.
     */
    private static void fillConfig(final MemorySegment cfg, final long flags, final int value)
    {
        cfg.fill((byte)0);
        cfg.set(ValueLayout.JAVA_LONG, 0, flags);
        if ((flags & FLAG_OUTPUT) != 0)
        {
            cfg.set(ValueLayout.JAVA_INT, 8, 1);
            cfg.set(ValueLayout.JAVA_INT, 32, ATTR_ID_OUTPUT_VALUES);
            cfg.set(ValueLayout.JAVA_LONG, 40, value & 1L);
            cfg.set(ValueLayout.JAVA_LONG, 48, 1L);
        }
    }

    @Override
    public synchronized boolean setDirection(final int line, final int direction, final int value)
    {
        if (direction == DIRECTION_NONE)
        {
            release(line);
            directions[line] = DIRECTION_NONE;
            return true;
        }
        final long flags = flagsFor(line, direction);
        int rc;
        if (lineFds[line] >= 0)
        {
            fillConfig(config, flags, value);
            rc = ioctl.call(lineFds[line], GPIO_V2_LINE_SET_CONFIG_IOCTL, config);
        }
        else
        {
            request.fill((byte)0);
            request.set(ValueLayout.JAVA_INT, 0, line);
            final byte[] consumer = "jvhost".getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(MemorySegment.ofArray(consumer), 0, request, REQUEST_CONSUMER, consumer.length);
            fillConfig(request.asSlice(REQUEST_CONFIG, CONFIG_SIZE), flags, value);
            request.set(ValueLayout.JAVA_INT, REQUEST_NUM_LINES, 1);
            rc = ioctl.call(fd, GPIO_V2_GET_LINE_IOCTL, request);
            if (rc >= 0)
            {
                lineFds[line] = request.get(ValueLayout.JAVA_INT, REQUEST_FD);
            }
        }
        if (rc < 0)
        {
            LOG.log(Level.WARNING, path + ": line " + line + " cannot be made "
                + (direction == DIRECTION_OUT ? "an output" : "an input") + ": " + Errno.name(-rc));
            return false;
        }
        directions[line] = direction;
        outputValues[line] = value;
        return true;
    }

    @Override
    public synchronized int value(final int line)
    {
        if (lineFds[line] < 0)
        {
            return -1;
        }
        values.set(ValueLayout.JAVA_LONG, 0, 0);
        values.set(ValueLayout.JAVA_LONG, 8, 1);
        final int rc = ioctl.call(lineFds[line], GPIO_V2_LINE_GET_VALUES_IOCTL, values);
        return rc < 0 ? -1 : (int)(values.get(ValueLayout.JAVA_LONG, 0) & 1);
    }

    @Override
    public synchronized boolean setValue(final int line, final int value)
    {
        outputValues[line] = value;
        if (lineFds[line] < 0 || directions[line] != DIRECTION_OUT)
        {
            // Kept for the line's next SET_DIRECTION out, as the driver sends the value first.
            return true;
        }
        values.set(ValueLayout.JAVA_LONG, 0, value & 1L);
        values.set(ValueLayout.JAVA_LONG, 8, 1);
        return ioctl.call(lineFds[line], GPIO_V2_LINE_SET_VALUES_IOCTL, values) >= 0;
    }

    @Override
    public synchronized boolean setIrqType(final int line, final int type)
    {
        if (type == IRQ_LEVEL_HIGH || type == IRQ_LEVEL_LOW)
        {
            LOG.log(Level.WARNING, path + ": line " + line + ": the GPIO character device has no level-triggered"
                + " interrupts");
            return false;
        }
        final int previous = irqTypes[line];
        irqTypes[line] = type;
        if (type == IRQ_NONE && directions[line] != DIRECTION_IN)
        {
            watchers[line] = null;
            return true;
        }
        if (!setDirection(line, DIRECTION_IN, 0))
        {
            irqTypes[line] = previous;
            return false;
        }
        if (type != IRQ_NONE && null == watchers[line])
        {
            final int lineFd = lineFds[line];
            watchers[line] = Thread.ofPlatform().daemon().name("gpio-line-" + line).start(() -> watch(line, lineFd));
        }
        else if (type == IRQ_NONE && null != watchers[line])
        {
            watchers[line] = null;
        }
        return true;
    }

    /**
     * Reads edge events of {@code line} from its request until the line is disarmed or released.
     */
    private void watch(final int line, final int lineFd)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment pollfd = arena.allocate(8, 8);
            final MemorySegment event = arena.allocate(EVENT_SIZE, 8);
            while (!closed)
            {
                synchronized (this)
                {
                    if (lineFds[line] != lineFd || irqTypes[line] == IRQ_NONE)
                    {
                        return;
                    }
                }
                pollfd.set(ValueLayout.JAVA_INT, 0, lineFd);
                pollfd.set(ValueLayout.JAVA_SHORT, 4, LibC.POLLIN);
                pollfd.set(ValueLayout.JAVA_SHORT, 6, (short)0);
                final int ready = LibC.pollNoErrno(pollfd.address(), 1, 100);
                if (ready <= 0 || (pollfd.get(ValueLayout.JAVA_SHORT, 6) & LibC.POLLIN) == 0)
                {
                    continue;
                }
                final long n = LibC.readRaw(lineFd, event.address(), EVENT_SIZE);
                if (n == EVENT_SIZE)
                {
                    listener.accept(line);
                }
                else if (n <= 0)
                {
                    return;
                }
            }
        }
    }

    private void release(final int line)
    {
        irqTypes[line] = IRQ_NONE;
        watchers[line] = null;
        if (lineFds[line] >= 0)
        {
            LibC.closeQuietly(lineFds[line]);
            lineFds[line] = -1;
        }
    }

    @Override
    public boolean levelActive(final int line)
    {
        return false;
    }

    @Override
    public void onInterrupt(final IntConsumer interruptListener)
    {
        this.listener = interruptListener;
    }

    @Override
    public synchronized void close()
    {
        closed = true;
        for (int i = 0; i < lineFds.length; i++)
        {
            release(i);
        }
        LibC.closeQuietly(fd);
    }

    @Override
    public String toString()
    {
        return path;
    }
}
