package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A terminal put in raw mode ({@code cfmakeraw}) for as long as this object is open, then restored exactly as it was:
 * on {@link #close()} and, should the JVM end another way, from a shutdown hook.
 * <p>
 * One thing is kept from cooked mode: Ctrl-C still raises SIGINT (ISIG with only the interrupt character), so the
 * user can always stop the process, as with vhost-device-console; quit and suspend characters are disabled, so ^\ and
 * ^Z reach the guest instead of dumping or stopping the JVM.
 * <pre>
 * glibc struct termios (60 bytes)
 *  0        4        8        12       16     17               49      52         56         60
 *  +--------+--------+--------+--------+------+----------------+-------+----------+----------+
 *  | iflag  | oflag  | cflag  | lflag  | line | c_cc[32]       | pad   | ispeed   | ospeed   |
 *  +--------+--------+--------+--------+------+----------------+-------+----------+----------+
 * </pre>
 */
public final class Terminal implements AutoCloseable
{
    private static final int TERMIOS_SIZE = 60;
    private static final long LFLAG = 12;
    private static final long CC = 17;
    private static final int ISIG = 0x1;
    private static final int VQUIT = 1;
    private static final int VSUSP = 10;
    private static final int TCSANOW = 0;
    private static final MethodHandle ISATTY = Downcalls.of("isatty", JAVA_INT, JAVA_INT);
    private static final MethodHandle TCGETATTR = Downcalls.of("tcgetattr", JAVA_INT, JAVA_INT, ADDRESS);
    private static final MethodHandle TCSETATTR = Downcalls.of("tcsetattr", JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
    private static final MethodHandle CFMAKERAW = Downcalls.of("cfmakeraw", JAVA_INT, ADDRESS);

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment saved = arena.allocate(128, 8);
    private final Thread hook = new Thread(this::restore, "jvhost-terminal-restore");
    private boolean restored;

    private Terminal(final int fd)
    {
        this.fd = fd;
    }

    /**
     * @return true when {@code fd} is a terminal.
     */
    public static boolean isTerminal(final int fd)
    {
        try
        {
            return (int)ISATTY.invokeExact(Downcalls.capture(), fd) == 1;
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
    }

    /**
     * Puts terminal {@code fd} in raw mode (see the class comment).
     *
     * @throws NativeException when {@code fd} is not a terminal (ENOTTY) or cannot be set.
     */
    public static Terminal raw(final int fd) throws NativeException
    {
        final Terminal t = new Terminal(fd);
        try
        {
            call(TCGETATTR, "tcgetattr", fd, t.saved);
            final MemorySegment raw = t.arena.allocate(128, 8);
            MemorySegment.copy(t.saved, 0, raw, 0, TERMIOS_SIZE);
            try
            {
                final int ignored = (int)CFMAKERAW.invokeExact(Downcalls.capture(), raw);
            }
            catch (final Throwable e)
            {
                throw Downcalls.rethrow(e);
            }
            raw.set(JAVA_INT, LFLAG, raw.get(JAVA_INT, LFLAG) | ISIG);
            raw.set(JAVA_BYTE, CC + VQUIT, (byte)0);
            raw.set(JAVA_BYTE, CC + VSUSP, (byte)0);
            setAttr(fd, raw);
        }
        catch (final NativeException | RuntimeException e)
        {
            t.arena.close();
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(t.hook);
        return t;
    }

    private static void setAttr(final int fd, final MemorySegment termios) throws NativeException
    {
        final MemorySegment c = Downcalls.capture();
        final int r;
        try
        {
            r = (int)TCSETATTR.invokeExact(c, fd, TCSANOW, termios);
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        if (r < 0)
        {
            throw new NativeException("tcsetattr", Downcalls.errno(c), "fd=" + fd);
        }
    }

    private static void call(final MethodHandle handle, final String name, final int fd, final MemorySegment arg)
        throws NativeException
    {
        final MemorySegment c = Downcalls.capture();
        final int r;
        try
        {
            r = (int)handle.invokeExact(c, fd, arg);
        }
        catch (final Throwable t)
        {
            throw Downcalls.rethrow(t);
        }
        if (r < 0)
        {
            throw new NativeException(name, Downcalls.errno(c), "fd=" + fd);
        }
    }

    /**
     * Puts the saved settings back (once).
     */
    private synchronized void restore()
    {
        if (restored)
        {
            return;
        }
        restored = true;
        try
        {
            setAttr(fd, saved);
        }
        catch (final NativeException e)
        {
            System.err.println("jvhost: cannot restore the terminal's settings: " + e.getMessage());
        }
    }

    @Override
    public void close()
    {
        restore();
        try
        {
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        catch (final IllegalStateException shuttingDown)
        {
            // The hook is running or about to: it finds the settings restored already.
        }
    }
}
