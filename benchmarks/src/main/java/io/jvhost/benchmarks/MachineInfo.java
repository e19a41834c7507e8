package io.jvhost.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the numbers were measured on, and whether anything else was using the machine.
 */
public final class MachineInfo
{
    private MachineInfo()
    {
    }

    public static String cpuModel()
    {
        for (final String line : lines("/proc/cpuinfo"))
        {
            if (line.startsWith("model name"))
            {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return System.getProperty("os.arch");
    }

    public static int onlineCpus()
    {
        int n = 0;
        for (final String line : lines("/proc/cpuinfo"))
        {
            if (line.startsWith("processor"))
            {
                n++;
            }
        }
        return n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }

    public static String memory()
    {
        for (final String line : lines("/proc/meminfo"))
        {
            if (line.startsWith("MemTotal:"))
            {
                final long kib = Long.parseLong(line.replaceAll("[^0-9]", ""));
                return String.format("%.1f GiB", kib / 1024.0 / 1024.0);
            }
        }
        return "?";
    }

    public static String kernel()
    {
        return System.getProperty("os.name") + " " + System.getProperty("os.version");
    }

    public static String jdk()
    {
        return System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.name") + " "
            + System.getProperty("java.runtime.version");
    }

    public static String loadAverage()
    {
        final List<String> l = lines("/proc/loadavg");
        if (l.isEmpty())
        {
            return "?";
        }
        final String[] f = l.getFirst().split("\\s+");
        return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : "?";
    }

    /**
     * @return the 1-minute load average, or 0 when unknown.
     */
    public static double loadAverage1()
    {
        final List<String> l = lines("/proc/loadavg");
        try
        {
            return l.isEmpty() ? 0 : Double.parseDouble(l.getFirst().split("\\s+")[0]);
        }
        catch (final NumberFormatException e)
        {
            return 0;
        }
    }

    /**
     * Waits, up to {@code max}, for one second in which other processes keep less than a tenth of the CPUs busy (the
     * load average lags a build that just finished by minutes; /proc/stat does not). Call it before the benchmark
     * starts anything of its own.
     *
     * @return the busy fraction of all CPUs in the last second sampled (0..1), or 0 when /proc/stat is unreadable.
     */
    public static double awaitQuiet(final Duration max) throws InterruptedException
    {
        final long deadline = System.nanoTime() + max.toNanos();
        double busy;
        do
        {
            final long[] before = cpuTimes();
            Thread.sleep(1000);
            final long[] after = cpuTimes();
            final long total = after[0] - before[0];
            busy = total <= 0 ? 0 : 1.0 - (double)(after[1] - before[1]) / total;
        }
        while (busy > QUIET && System.nanoTime() < deadline);
        return busy;
    }

    /** Busy fraction of all CPUs below which the machine counts as quiet. */
    public static final double QUIET = 0.1;

    /**
     * @return {total, idle + iowait} jiffies of all CPUs from /proc/stat, or zeros.
     */
    private static long[] cpuTimes()
    {
        for (final String line : lines("/proc/stat"))
        {
            if (line.startsWith("cpu "))
            {
                final String[] f = line.trim().split("\\s+");
                long total = 0;
                for (int i = 1; i < f.length && i <= 8; i++)
                {
                    total += Long.parseLong(f[i]);
                }
                return new long[] {total, Long.parseLong(f[4]) + Long.parseLong(f[5])};
            }
        }
        return new long[] {0, 0};
    }

    /**
     * @return the first line of {@code qemu-system-x86_64 --version}, or a note why not.
     */
    public static String qemuVersion()
    {
        final String v = run("qemu-system-x86_64", "--version");
        return null == v ? "qemu-system-x86_64 not found" : v.lines().findFirst().orElse("?");
    }

    /**
     * @return the Debian package owning {@code path} and its version, e.g. {@code qemu-system-gui 1:10.0.2+ds-...},
     *     or null.
     */
    public static String packageOf(final String path)
    {
        final String owner = run("dpkg-query", "-S", path);
        if (null == owner || !owner.contains(":"))
        {
            return null;
        }
        final String name = owner.substring(0, owner.indexOf(':')).trim();
        final String version = run("dpkg-query", "-W", "-f=${Version}", name);
        return null == version ? name : name + " " + version.strip();
    }

    private static List<String> lines(final String file)
    {
        try
        {
            return Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
        }
        catch (final IOException e)
        {
            return List.of();
        }
    }

    private static String run(final String... command)
    {
        try
        {
            final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0)
            {
                return null;
            }
            return out;
        }
        catch (final IOException e)
        {
            return null;
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
