package io.jvhost.os;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ThreadTop}: whatever escapes a thread's work, an Error included, ends that thread with one ERROR line naming
 * the thread's purpose, the throwable and where our code was, and never reaches the default uncaught handler.
 */
class ThreadTopTest
{
    @Test
    void anEscapingErrorIsOneLogLineNamingWhatAndWhereAndNotAnUncaughtDeath() throws Exception
    {
        final Logger logger = Logger.getLogger(ThreadTop.class.getName());
        final List<LogRecord> records = new ArrayList<>();
        final Handler handler = new Handler()
        {
            @Override
            public synchronized void publish(final LogRecord record)
            {
                records.add(record);
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        logger.addHandler(handler);
        final AtomicReference<Throwable> uncaught = new AtomicReference<>();
        try
        {
            final Thread t = Thread.ofPlatform().name("top-test").uncaughtExceptionHandler((th, e) -> uncaught.set(e))
                .start(ThreadTop.guarded("gpu0: VNC client /127.0.0.1:4000", ThreadTopTest::failDeepInside));
            t.join();
        }
        finally
        {
            logger.removeHandler(handler);
        }
        assertThat(uncaught.get()).as("reached the uncaught handler").isNull();
        synchronized (handler)
        {
            assertThat(records).hasSize(1);
            final LogRecord r = records.getFirst();
            assertThat(r.getLevel()).isEqualTo(Level.SEVERE);
            assertThat(r.getMessage()).startsWith("gpu0: VNC client /127.0.0.1:4000: thread ended by ")
                .contains("java.lang.StackOverflowError: deep", "ThreadTopTest.failDeepInside(ThreadTopTest.java")
                .doesNotContain("\n");
            assertThat(r.getThrown()).as("one line: no stack trace attached").isNull();
        }
    }

    @Test
    void describeNamesTheFirstFrameOutsideTheJdk()
    {
        final IllegalStateException inJdk = new IllegalStateException("boom");
        inJdk.setStackTrace(new StackTraceElement[] {
            new StackTraceElement(null, "java.base", null, "java.util.Objects", "requireNonNull", "Objects.java", 1),
            new StackTraceElement(null, null, null, "io.jvhost.Foo", "bar", "Foo.java", 12)});
        assertThat(ThreadTop.describe(inJdk)).isEqualTo("java.lang.IllegalStateException: boom (at io.jvhost.Foo.bar"
            + "(Foo.java:12))");

        final IllegalStateException onlyJdk = new IllegalStateException("jdk");
        onlyJdk.setStackTrace(new StackTraceElement[] {
            new StackTraceElement(null, "java.base", null, "java.lang.Thread", "run", "Thread.java", 5)});
        assertThat(ThreadTop.describe(onlyJdk)).as("the first frame when all are the JDK's")
            .endsWith("(at java.base/java.lang.Thread.run(Thread.java:5))");

        final IllegalStateException noTrace = new IllegalStateException("none");
        noTrace.setStackTrace(new StackTraceElement[0]);
        assertThat(ThreadTop.describe(noTrace)).isEqualTo("java.lang.IllegalStateException: none");
    }

    private static void failDeepInside()
    {
        throw new StackOverflowError("deep");
    }
}
