package io.jvhost.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import io.jvhost.os.LibC;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A daemon whose listening socket fails for good can serve no one any more: the process says why in one line and
 * exits non-zero, so a supervisor sees it.
 */
@Timeout(60)
class ListenerFailureTest
{
    @Test
    void aListeningSocketThatFailsForGoodEndsTheDaemonWithOneLineAndStatus1(@TempDir final Path dir) throws Exception
    {
        final List<String> lines = new ArrayList<>();
        final Handler handler = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                if (record.getLevel().intValue() >= Level.WARNING.intValue())
                {
                    synchronized (lines)
                    {
                        lines.add(record.getLevel() + " " + record.getMessage());
                    }
                }
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
        final Logger logger = Logger.getLogger(VhostUserDaemon.class.getName());
        logger.addHandler(handler);
        try
        {
            // Handed over as an inherited listening socket (--fd): the daemon owns and closes it.
            final int fd = UnixSocket.listen(dir.resolve("rng.sock"), 1).fd();
            final CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(
                () -> CliRun.of("rng", "--fd", Integer.toString(fd)));
            // Another holder of the socket shuts it down: accept fails with EINVAL from then on, before or after
            // the daemon first calls it.
            LibC.shutdownQuietly(fd);

            final CliRun r = run.get(30, TimeUnit.SECONDS);
            assertThat(r.exitCode()).as("exit status; stderr: %s", r.err()).isEqualTo(1);
            synchronized (lines)
            {
                assertThat(lines).containsExactly("SEVERE rng0: accept on fd " + fd + " failed for good, no front-end"
                    + " can connect any more: accept4 failed: EINVAL (22), fd=" + fd);
            }
        }
        finally
        {
            logger.removeHandler(handler);
        }
    }
}
