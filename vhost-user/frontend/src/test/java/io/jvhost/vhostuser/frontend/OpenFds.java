package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * This process's open descriptors, from {@code /proc/self/fd}. The in-process back-end closes a connection's
 * descriptors on its own thread after the front-end goes away, so {@link #awaitBaseline} polls for a while.
 */
final class OpenFds
{
    private static final Path PROC_FD = Path.of("/proc/self/fd");

    private final Map<Integer, String> fds;

    private OpenFds(final Map<Integer, String> fds)
    {
        this.fds = fds;
    }

    static OpenFds snapshot()
    {
        final Map<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC_FD))
        {
            final String self = PROC_FD.toRealPath().toString();
            for (final Path entry : dir)
            {
                try
                {
                    final String target = Files.readSymbolicLink(entry).toString();
                    if (!target.equals(self))
                    {
                        fds.put(Integer.parseInt(entry.getFileName().toString()), target);
                    }
                }
                catch (final NoSuchFileException gone)
                {
                    // Closed while listing (or the directory's own descriptor).
                }
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
        return new OpenFds(fds);
    }

    int count()
    {
        return fds.size();
    }

    /**
     * Waits up to 5 s for the descriptor count to come back to {@code baseline}'s, then asserts it did.
     */
    static void awaitBaseline(final OpenFds baseline) throws InterruptedException
    {
        final long end = System.nanoTime() + 5_000_000_000L;
        OpenFds now = snapshot();
        while (now.count() > baseline.count() && System.nanoTime() - end < 0)
        {
            Thread.sleep(5);
            now = snapshot();
        }
        final Map<Integer, String> added = new TreeMap<>();
        now.fds.forEach((fd, target) ->
        {
            if (!target.equals(baseline.fds.get(fd)))
            {
                added.put(fd, target);
            }
        });
        assertThat(now.count()).as("open descriptors (new since baseline: %s)", added)
            .isLessThanOrEqualTo(baseline.count());
    }

    @Override
    public String toString()
    {
        return fds.toString();
    }
}
