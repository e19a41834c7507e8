package io.jvhost.virgl;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * virglrenderer's own messages, routed to {@link System.Logger} one line per message instead of the process's
 * stderr. 0.10 hands a {@code printf} format and a {@code va_list}, which only C can expand: it goes to libc's
 * {@code vsnprintf}. 1.0 and later hand formatted text with a level ({@code virgl_set_log_callback}).
 * <p>
 * Messages may come in pieces and from virglrenderer's threads, so text is gathered under a lock until a newline.
 * The callbacks are installed once per process and live in {@link Arena#global()}: the library keeps them.
 */
final class VirglLog
{
    private static final System.Logger LOG = System.getLogger("io.jvhost.virgl.virglrenderer");
    private static final int BUFFER_SIZE = 1024;

    /** 1.0's {@code enum virgl_log_level_flags}. */
    private static final System.Logger.Level[] LEVELS = {
        System.Logger.Level.DEBUG, System.Logger.Level.INFO, System.Logger.Level.WARNING, System.Logger.Level.ERROR,
    };

    private static final Object LOCK = new Object();
    private static final MemorySegment BUFFER = Arena.global().allocate(BUFFER_SIZE);
    private static final StringBuilder PENDING = new StringBuilder();

    private VirglLog()
    {
    }

    /**
     * Points virglrenderer's logging at this class. Called once, before the first init.
     */
    static void install() throws Throwable
    {
        final Linker linker = Linker.nativeLinker();
        if (null != VirglLibrary.SET_LOG_CALLBACK)
        {
            final MemorySegment callback = linker.upcallStub(
                MethodHandles.lookup().findStatic(VirglLog.class, "logCallback",
                    MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class)),
                FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            VirglLibrary.SET_LOG_CALLBACK.invokeExact(callback, MemorySegment.NULL, MemorySegment.NULL);
            return;
        }
        final MemorySegment callback = linker.upcallStub(
            MethodHandles.lookup().findStatic(VirglLog.class, "debugCallback",
                MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class)),
            FunctionDescriptor.ofVoid(ADDRESS, ADDRESS), Arena.global());
        final MemorySegment previous = (MemorySegment)VirglLibrary.SET_DEBUG_CALLBACK.invokeExact(callback);
    }

    /**
     * 0.10's {@code void (*)(const char *fmt, va_list ap)}. A {@code va_list} parameter arrives as a pointer on
     * x86-64 (an array type decays) and on aarch64 (a struct over 16 bytes goes by reference), and libc's
     * {@code vsnprintf} takes it the same way, so the pointer is handed on untouched.
     */
    private static void debugCallback(final MemorySegment format, final MemorySegment arguments)
    {
        try
        {
            final String text;
            synchronized (LOCK)
            {
                final int n = (int)VirglLibrary.VSNPRINTF.invokeExact(BUFFER, (long)BUFFER_SIZE, format, arguments);
                if (n < 0)
                {
                    return;
                }
                text = BUFFER.getString(0, StandardCharsets.UTF_8) + (n >= BUFFER_SIZE ? "...\n" : "");
            }
            emit(levelOf(text), text);
        }
        catch (final Throwable t)
        {
            VirglCallbacks.failed("debug callback", t);
        }
    }

    /**
     * 1.0's {@code void (*)(enum virgl_log_level_flags, const char *message, void *user_data)}.
     */
    private static void logCallback(final int level, final MemorySegment message, final MemorySegment userData)
    {
        try
        {
            final String text = message.reinterpret(Long.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
            emit(level >= 0 && level < LEVELS.length ? LEVELS[level] : System.Logger.Level.INFO, text);
        }
        catch (final Throwable t)
        {
            VirglCallbacks.failed("log callback", t);
        }
    }

    /**
     * 0.10 gives no level: what it prints unasked is mostly start-up information, and its errors say so.
     */
    private static System.Logger.Level levelOf(final String text)
    {
        final String lower = text.toLowerCase(java.util.Locale.ROOT);
        return lower.contains("error") || lower.contains("illegal") || lower.contains("fail")
            ? System.Logger.Level.WARNING : System.Logger.Level.INFO;
    }

    /**
     * Logs every complete line of {@code text}, keeping an unfinished one for the next piece.
     */
    private static void emit(final System.Logger.Level level, final String text)
    {
        synchronized (LOCK)
        {
            PENDING.append(text);
            int newline;
            while ((newline = PENDING.indexOf("\n")) >= 0)
            {
                final String line = PENDING.substring(0, newline).strip();
                PENDING.delete(0, newline + 1);
                if (!line.isEmpty())
                {
                    LOG.log(level, "virglrenderer: " + line);
                }
            }
            if (PENDING.length() > 4 * BUFFER_SIZE)
            {
                LOG.log(level, "virglrenderer: " + PENDING.toString().strip());
                PENDING.setLength(0);
            }
        }
    }
}
