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
    public record Reading(Map<Long, Long> threadNanos, Map<Long, String> threadNames, long tickNanos)
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

        /**
         * @return the {@code n} threads that used the most CPU since {@code earlier}, as "name ms" (threads with the
         *     same name, e.g. a pool's, summed), most first: where a back-end's time went.
         */
        public String busiestSince(final Reading earlier, final int n)
        {
            final Map<String, Long> byName = new HashMap<>();
            for (final Map.Entry<Long, Long> e : threadNanos.entrySet())
            {
                final long used = e.getValue() - earlier.threadNanos.getOrDefault(e.getKey(), 0L);
                if (used > 0)
                {
                    byName.merge(threadNames.getOrDefault(e.getKey(), "?"), used, Long::sum);
                }
            }
            return String.join(", ", byName.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(n)
                .map(e -> String.format(java.util.Locale.ROOT, "%s %.2f ms", e.getKey(), e.getValue() / 1e6))
                .toList());
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
        final Map<Long, String> names = new HashMap<>();
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
                    final long tid = Long.parseLong(task.getFileName().toString());
                    threads.put(tid, Long.parseLong(stat.substring(0, stat.indexOf(' '))));
                    // A pool's threads differ only in their number: named once.
                    names.put(tid, Files.readString(task.resolve("comm"), StandardCharsets.US_ASCII).strip()
                        .replaceAll("[-#]?\\d+$", "*"));
                }
                catch (final IOException e)
                {
                    // A thread that exited meanwhile: the tick-counted total still holds it.
                }
            }
        }
        return new Reading(Map.copyOf(threads), Map.copyOf(names), ticks);
    }
}
