package io.jvhost.device.input;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

import io.jvhost.os.Epoll;
import io.jvhost.os.Errno;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;

/**
 * Reads {@code struct input_event} records from a descriptor (an evdev device, or a recording in a file, pipe or
 * socket) on its own thread and forwards each as {@code (type, code, value)} to an {@link InputSink}:
 * <pre>
 * struct input_event on 64-bit Linux (24 bytes, native byte order)
 *  0                               16       18       20               24
 *  +-------------------------------+--------+--------+----------------+
 *  | struct timeval (s64 sec,      | u16    | u16    | s32 value      |
 *  |                 s64 usec)     | type   | code   |                |
 *  +-------------------------------+--------+--------+----------------+
 * </pre>
 * The time stamp is dropped (virtio-input events carry none). After {@code SYN_DROPPED} (the kernel's buffer for
 * this reader overflowed) events are discarded up to and including the next {@code SYN_REPORT}, as the evdev
 * documentation asks, so the guest never gets half a report. Records are read up to {@link #BATCH} at a time into
 * one native buffer: nothing is allocated per event.
 * <p>
 * A pollable descriptor (evdev, pipe, socket) is waited on with epoll next to a stop eventfd, so {@link #close()}
 * ends the thread at once; a regular file is read with plain blocking reads to its end.
 */
public final class EvdevReader implements AutoCloseable
{
    /** {@code sizeof(struct input_event)} on 64-bit Linux. */
    public static final int INPUT_EVENT_SIZE = 24;
    /** Records read with one {@code read(2)}. */
    public static final int BATCH = 64;

    private static final System.Logger LOG = System.getLogger(EvdevReader.class.getName());
    private static final long TYPE_OFFSET = 16;
    private static final long CODE_OFFSET = 18;
    private static final long VALUE_OFFSET = 20;
    private static final int ENODEV = 19;
    private static final long STOP_TOKEN = 1;
    private static final long INPUT_TOKEN = 2;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt S32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final String name;
    private final int fd;
    private final InputSink sink;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate((long)INPUT_EVENT_SIZE * BATCH, 8);
    private final EventFd stop;
    private volatile boolean running = true;
    private Thread thread;
    private int fill;
    private boolean discarding;
    private volatile long forwarded;
    private volatile long discarded;

    /**
     * @param name for logs and the thread name, e.g. the device path.
     * @param fd   the descriptor to read; not closed by this reader.
     */
    public EvdevReader(final String name, final int fd, final InputSink sink) throws NativeException
    {
        this.name = Objects.requireNonNull(name, "name");
        this.fd = fd;
        this.sink = Objects.requireNonNull(sink, "sink");
        this.stop = EventFd.create();
    }

    /**
     * Starts the reading thread (a daemon).
     */
    public synchronized EvdevReader start()
    {
        if (null != thread)
        {
            throw new IllegalStateException(name + ": reader already started");
        }
        thread = Thread.ofPlatform().daemon(true).name("evdev " + name)
            .start(ThreadTop.guarded(name + ": input reader", this::run));
        return this;
    }

    /**
     * @return events forwarded to the sink.
     */
    public long forwardedEvents()
    {
        return forwarded;
    }

    /**
     * @return events discarded after SYN_DROPPED (and records with an impossible type).
     */
    public long discardedEvents()
    {
        return discarded;
    }

    /**
     * @return true while the reading thread runs.
     */
    public boolean isRunning()
    {
        final Thread t = thread;
        return null != t && t.isAlive();
    }

    /**
     * Waits for the reading thread to end (end of file, error, or {@link #close()}).
     *
     * @return true when it ended within the time.
     */
    public boolean awaitEnd(final long millis) throws InterruptedException
    {
        final Thread t = thread;
        return null == t || t.join(java.time.Duration.ofMillis(millis));
    }

    private void run()
    {
        try (Epoll epoll = Epoll.create(4))
        {
            epoll.add(stop.fd(), LibC.EPOLLIN, STOP_TOKEN);
            boolean pollable = true;
            try
            {
                epoll.add(fd, LibC.EPOLLIN, INPUT_TOKEN);
            }
            catch (final NativeException e)
            {
                if (e.errno() != Errno.EPERM)
                {
                    throw e;
                }
                pollable = false; // a regular file: always readable, read it to its end
            }
            while (running)
            {
                if (pollable && !awaitInput(epoll))
                {
                    continue;
                }
                final long n = LibC.readRaw(fd, buffer.address() + fill, buffer.byteSize() - fill);
                if (n == -Errno.EAGAIN)
                {
                    continue;
                }
                if (n == 0)
                {
                    LOG.log(Level.INFO, name + ": end of input after " + forwarded + " event(s)");
                    return;
                }
                if (n < 0)
                {
                    if (running)
                    {
                        LOG.log(Level.WARNING, name + ": reading input events failed: " + Errno.name((int)-n)
                            + (n == -ENODEV ? " (the device was removed)" : "") + "; no more events from it");
                    }
                    return;
                }
                fill += (int)n;
                final int used = forward(buffer, fill);
                if (used < fill)
                {
                    MemorySegment.copy(buffer, used, buffer, 0, fill - used);
                }
                fill -= used;
            }
        }
        catch (final NativeException | RuntimeException e)
        {
            if (running)
            {
                LOG.log(Level.ERROR, name + ": input reader stopped: " + e.getMessage());
            }
        }
    }

    /**
     * @return true when the input is readable, false when woken to stop (or by a signal).
     */
    private boolean awaitInput(final Epoll epoll) throws NativeException
    {
        final int n = epoll.await(-1);
        boolean input = false;
        for (int i = 0; i < n; i++)
        {
            if (epoll.token(i) == STOP_TOKEN)
            {
                stop.drain();
                return false;
            }
            input = true;
        }
        return input;
    }

    /**
     * Forwards every whole record in {@code records[0, length)}.
     *
     * @return the bytes consumed (a multiple of {@link #INPUT_EVENT_SIZE}; a partial record stays).
     */
    int forward(final MemorySegment records, final int length)
    {
        int at = 0;
        for (; at + INPUT_EVENT_SIZE <= length; at += INPUT_EVENT_SIZE)
        {
            final int type = records.get(U16, at + TYPE_OFFSET) & 0xFFFF;
            final int code = records.get(U16, at + CODE_OFFSET) & 0xFFFF;
            final int value = records.get(S32, at + VALUE_OFFSET);
            if (type == InputSink.EV_SYN && code == InputCodes.SYN_DROPPED)
            {
                discarding = true;
                discarded++;
                continue;
            }
            if (discarding || type > InputCodes.EV_MAX)
            {
                discarded++;
                if (type == InputSink.EV_SYN && code == InputSink.SYN_REPORT)
                {
                    discarding = false;
                }
                continue;
            }
            sink.event(type, code, value);
            forwarded++;
        }
        return at;
    }

    /**
     * Stops the reading thread and waits for it (a regular file being read ends at its end).
     */
    @Override
    public void close()
    {
        running = false;
        stop.signal();
        final Thread t;
        synchronized (this)
        {
            t = thread;
        }
        if (null != t && t != Thread.currentThread())
        {
            try
            {
                if (!t.join(java.time.Duration.ofSeconds(5)))
                {
                    LOG.log(Level.WARNING, name + ": input reader did not stop within 5 s");
                    return; // leave the buffer and eventfd to the thread
                }
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
        stop.close();
        arena.close();
    }
}
