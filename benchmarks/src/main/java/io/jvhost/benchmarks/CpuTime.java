package io.jvhost.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * CPU time (user + system) a process and its live descendants have used, from {@code /proc/PID/stat}: a back-end
 * started through a wrapper counts with its children. Resolution is the kernel's clock tick (10 ms at USER_HZ 100),
 * so measure transfers of at least a few seconds. {@link #read} is finer: nanoseconds per thread.
 */
public final class CpuTime
{
    /** USER_HZ: what Linux reports utime and stime in (100 on every architecture jvhost runs on). */
    private static final long TICKS_PER_SECOND = 100;

    private CpuTime()
    {
    }

    /**
     * @return nanoseconds of CPU used so far by {@code pid} and its descendants.
     */
    public static long ofTree(final long pid) throws IOException
    {
        final List<Long> pids = new ArrayList<>();
        pids.add(pid);
        ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(d -> pids.add(d.pid())));
        long ticks = 0;
        for (final long p : pids)
        {
            final String stat;
            try
            {
                stat = Files.readString(Path.of("/proc", Long.toString(p), "stat"), StandardCharsets.US_ASCII);
            }
            catch (final IOException e)
            {
                if (p == pid)
                {
                    throw e;
                }
                continue; // A child that exited meanwhile.
            }
            // The command name (field 2) may hold spaces; count from the ')' that ends it: utime and stime are
            // fields 14 and 15, i.e. the 12th and 13th after it.
            final String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
        }
        return ticks * (1_000_000_000L / TICKS_PER_SECOND);
    }

    /**
     * A reading of a process tree's CPU time: every live thread's time on a CPU in nanoseconds (the first field of
     * {@code /proc/PID/task/TID/schedstat}, exact for a thread that is not running at that moment), and the tree's
     * tick-counted {@link #ofTree} total, which also holds the threads that have exited.
     */
    public record Reading(Map<Long, Long> threadNanos, long tickNanos)
    {
        /**
         * @return nanoseconds of CPU used since {@code earlier}: the growth of the threads alive now (a thread born
         *     since counts whole), unless the tick-counted total grew by more than two ticks beyond that, which only
         *     threads that exited meanwhile explain; then that total.
         */
        public long nanosSince(final Reading earlier)
        {
            long precise = 0;
            for (final Map.Entry<Long, Long> e : threadNanos.entrySet())
            {
                precise += Math.max(0, e.getValue() - earlier.threadNanos.getOrDefault(e.getKey(), 0L));
            }
            final long ticks = tickNanos - earlier.tickNanos;
            return ticks > precise + 2 * (1_000_000_000L / TICKS_PER_SECOND) ? ticks : precise;
        }
    }

    /**
     * @return the CPU time of {@code pid} and its live descendants, per thread and in ticks.
     * @throws IOException when {@code pid} has gone.
     */
    public static Reading read(final long pid) throws IOException
    {
        final long ticks = ofTree(pid);
        final List<Long> pids = new ArrayList<>();
        pids.add(pid);
        ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(d -> pids.add(d.pid())));
        final Map<Long, Long> threads = new HashMap<>();
        for (final long p : pids)
        {
            final List<Path> tasks;
            try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(p), "task")))
            {
                tasks = s.toList();
            }
            catch (final IOException e)
            {
                if (p == pid)
                {
                    throw e;
                }
                continue;
            }
            for (final Path task : tasks)
            {
                try
                {
                    final String stat = Files.readString(task.resolve("schedstat"), StandardCharsets.US_ASCII);
                    threads.put(Long.parseLong(task.getFileName().toString()),
                        Long.parseLong(stat.substring(0, stat.indexOf(' '))));
                }
                catch (final IOException e)
                {
                    // A thread that exited meanwhile: the tick-counted total still holds it.
                }
            }
        }
        return new Reading(Map.copyOf(threads), ticks);
    }
}
