package io.jvhost.os;

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
 * A snapshot of this process's open descriptors from {@code /proc/self/fd}: number to link target. The directory
 * descriptor used for the listing itself is left out. Shared through this module's test-jar (the in-process
 * front-end's tests check with it that a connection's descriptors are all closed).
 */
public final class OpenFds
{
    private static final Path PROC_FD = Path.of("/proc/self/fd");

    private final Map<Integer, String> fds;

    private OpenFds(final Map<Integer, String> fds)
    {
        this.fds = fds;
    }

    public static OpenFds snapshot()
    {
        final Map<Integer, String> fds = new TreeMap<>();
        final String self;
        try
        {
            self = PROC_FD.toRealPath().toString();
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC_FD))
        {
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
                    // Closed while we listed: not open.
                }
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
        return new OpenFds(fds);
    }

    public int count()
    {
        return fds.size();
    }

    public boolean contains(final int fd)
    {
        return fds.containsKey(fd);
    }

    /**
     * @return the descriptors open now that were not open (with the same target) in {@code before}.
     */
    public Map<Integer, String> newSince(final OpenFds before)
    {
        final Map<Integer, String> added = new TreeMap<>();
        fds.forEach((fd, target) ->
        {
            if (!target.equals(before.fds.get(fd)))
            {
                added.put(fd, target);
            }
        });
        return added;
    }

    /**
     * Asserts that no descriptor was opened since {@code before} and none is left over.
     */
    public static void assertNoLeakSince(final OpenFds before)
    {
        final OpenFds after = snapshot();
        assertThat(after.newSince(before)).as("descriptors opened and not closed").isEmpty();
        assertThat(after.count()).as("open descriptor count").isLessThanOrEqualTo(before.count());
    }

    /**
     * Waits up to 5 s for the descriptor count to come back to {@code baseline}'s (a back-end closes a connection's
     * descriptors on its own thread after the front-end goes away), then asserts it did.
     */
    public static void awaitBaseline(final OpenFds baseline) throws InterruptedException
    {
        final long end = System.nanoTime() + 5_000_000_000L;
        OpenFds now = snapshot();
        while (now.count() > baseline.count() && System.nanoTime() - end < 0)
        {
            Thread.sleep(5);
            now = snapshot();
        }
        assertThat(now.count()).as("open descriptors (new since baseline: %s)", now.newSince(baseline))
            .isLessThanOrEqualTo(baseline.count());
    }

    public static boolean isCloseOnExec(final int fd) throws NativeException
    {
        return (LibC.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC) != 0;
    }

    @Override
    public String toString()
    {
        return fds.toString();
    }
}
