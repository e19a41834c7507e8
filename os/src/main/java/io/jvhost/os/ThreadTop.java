package io.jvhost.os;

import java.lang.System.Logger.Level;

/**
 * The top of every thread jvhost starts (vhost-user workers and protocol threads, display readers and writers, accept
 * threads, HTTP and VNC clients, evdev readers, control clients): whatever escapes the thread's work, an
 * {@link Error} included, ends that thread with one log line naming it and its peer, never with the default
 * handler's stack trace; the other threads go on. The work itself closes what it owns in its {@code finally} blocks,
 * and handles the failures it can recover from (a fault in guest memory ends that connection) before they get here.
 */
public final class ThreadTop
{
    private static final System.Logger LOG = System.getLogger(ThreadTop.class.getName());

    private ThreadTop()
    {
    }

    /**
     * @param what names the thread and its peer for the log line, e.g. {@code gpu0: VNC client /127.0.0.1:40000}.
     * @return {@code work}, with anything that escapes it logged in one line.
     */
    public static Runnable guarded(final String what, final Runnable work)
    {
        return () ->
        {
            try
            {
                work.run();
            }
            catch (final Throwable t)
            {
                LOG.log(Level.ERROR, what + ": thread ended by " + describe(t));
            }
        };
    }

    /**
     * @return the throwable and where our code was when it was thrown, on one line, e.g.
     *     {@code java.lang.OutOfMemoryError: Java heap space (at Foo.bar(Foo.java:12))}: the first frame outside
     *     the JDK (a fault in guest memory is thrown from deep inside the JDK's memory access), else the first frame.
     */
    public static String describe(final Throwable t)
    {
        final StackTraceElement[] trace = t.getStackTrace();
        if (trace.length == 0)
        {
            return t.toString();
        }
        for (final StackTraceElement frame : trace)
        {
            final String module = frame.getModuleName();
            if (null == module || !module.startsWith("java.") && !module.startsWith("jdk."))
            {
                return t + " (at " + frame + ")";
            }
        }
        return t + " (at " + trace[0] + ")";
    }
}
