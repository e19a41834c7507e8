package io.jvhost.benchmarks.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Resident memory of a process and its descendants, from {@code /proc/PID/status} (a back-end started through a
 * wrapper script is counted with its children).
 *
 * @param vmRssKib   VmRSS: everything resident (anonymous + file + shared memory).
 * @param rssAnonKib RssAnon: private anonymous memory (heaps, stacks, the back-end's own images).
 * @param rssFileKib RssFile: mapped files (the binary, shared libraries, the JDK's modules image and CDS archive).
 * @param rssShmemKib RssShmem: shared memory, here mostly the guest RAM pages the back-end touched.
 */
record ProcStatus(long vmRssKib, long rssAnonKib, long rssFileKib, long rssShmemKib)
{
    /**
     * @return the sums over {@code pid} and its live descendants.
     */
    static ProcStatus ofTree(final long pid) throws IOException
    {
        final List<Long> pids = new ArrayList<>();
        pids.add(pid);
        ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(d -> pids.add(d.pid())));
        long rss = 0;
        long anon = 0;
        long file = 0;
        long shmem = 0;
        for (final long p : pids)
        {
            final List<String> lines;
            try
            {
                lines = Files.readAllLines(Path.of("/proc", Long.toString(p), "status"), StandardCharsets.UTF_8);
            }
            catch (final IOException e)
            {
                if (p == pid)
                {
                    throw e;
                }
                continue; // A child that exited meanwhile.
            }
            rss += field(lines, "VmRSS:");
            anon += field(lines, "RssAnon:");
            file += field(lines, "RssFile:");
            shmem += field(lines, "RssShmem:");
        }
        return new ProcStatus(rss, anon, file, shmem);
    }

    private static long field(final List<String> lines, final String name)
    {
        for (final String line : lines)
        {
            if (line.startsWith(name))
            {
                final String[] f = line.substring(name.length()).trim().split("\\s+");
                return Long.parseLong(f[0]);
            }
        }
        return 0;
    }

    double vmRssMib()
    {
        return vmRssKib / 1024.0;
    }
}
