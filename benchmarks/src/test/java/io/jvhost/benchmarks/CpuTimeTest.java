package io.jvhost.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CPU time readings of this JVM's own process: per-thread nanoseconds, and threads that exited in between.
 */
class CpuTimeTest
{
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Spins until the calling thread has used {@code nanos} of CPU; returns what it used. */
    private static long burn(final long nanos)
    {
        final long start = THREADS.getCurrentThreadCpuTime();
        long x = 1;
        while (THREADS.getCurrentThreadCpuTime() - start < nanos)
        {
            for (int i = 0; i < 10_000; i++)
            {
                x = x * 6364136223846793005L + 1442695040888963407L;
            }
        }
        if (x == 42)
        {
            System.out.print("");
        }
        return THREADS.getCurrentThreadCpuTime() - start;
    }

    /** The Linux thread ID of the thread named {@code name} in this process (its comm). */
    private static long tid(final String name) throws Exception
    {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task")))
        {
            for (final Path t : tasks.toList())
            {
                if (Files.readString(t.resolve("comm"), StandardCharsets.US_ASCII).strip().equals(name))
                {
                    return Long.parseLong(t.getFileName().toString());
                }
            }
        }
        throw new AssertionError("no thread " + name);
    }

    @Test
    void readingHasEachLiveThreadsCpuTimeInNanosecondsFinerThanATickAndItsName() throws Exception
    {
        final long pid = ProcessHandle.current().pid();
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch go = new CountDownLatch(1);
        final CountDownLatch burnt = new CountDownLatch(1);
        final CountDownLatch end = new CountDownLatch(1);
        final AtomicLong used = new AtomicLong();
        final Thread t = Thread.ofPlatform().name("cpuburn-live").start(() ->
        {
            try
            {
                started.countDown();
                go.await();
                used.set(burn(3_000_000));
                burnt.countDown();
                end.await();
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        });
        started.await();
        final long tid = tid("cpuburn-live");
        final CpuTime.Reading before = CpuTime.read(pid);
        go.countDown();
        burnt.await();
        final CpuTime.Reading after = CpuTime.read(pid);
        end.countDown();
        t.join();

        // 3 ms is under one 10 ms tick: only a per-thread nanosecond count sees it as it is.
        final long threadDelta = after.threadNanos().get(tid) - before.threadNanos().get(tid);
        assertThat(threadDelta).as("the burning thread's time, against its own clock (%d ns)", used.get())
            .isBetween(used.get() - 1_000_000, used.get() + 1_000_000);
        assertThat(after.nanosSince(before)).isGreaterThanOrEqualTo(threadDelta);
        assertThat(after.busiestSince(before, 10)).as("the busiest threads, by name").contains("cpuburn-live ");
    }

    @Test
    void threadsThatExitedInBetweenStillCountThroughTheTickTotal() throws Exception
    {
        final long pid = ProcessHandle.current().pid();
        final CpuTime.Reading before = CpuTime.read(pid);
        final AtomicLong used = new AtomicLong();
        final Thread t = Thread.ofPlatform().name("cpuburn-gone").start(() -> used.set(burn(150_000_000)));
        t.join();
        final CpuTime.Reading after = CpuTime.read(pid);

        // Ticks cut each reading down to 10 ms: the growth is at least what was used less one tick.
        assertThat(after.nanosSince(before)).as("CPU since, with a thread that used %d ns and exited", used.get())
            .isGreaterThanOrEqualTo(used.get() - 10_000_000);
    }
}
