package io.jvhost.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CPU time (user + system) a process and its live descendants have used, from {@code /proc/PID/stat}: a back-end
 * started through a wrapper counts with its children. Resolution is the kernel's clock tick (10 ms at USER_HZ 100),
 * so measure transfers of at least a few seconds.
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
}
