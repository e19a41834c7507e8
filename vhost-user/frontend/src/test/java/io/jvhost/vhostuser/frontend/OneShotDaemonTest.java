package io.jvhost.vhostuser.frontend;

import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A daemon serving an inherited connected socket (socket activation with one instance per connection) serves it once
 * and says how it ended: {@link VhostUserDaemon#failed()} is false when the front-end disconnected, true when the
 * connection ended on an error, so the launcher exits 0 or 1 as a service manager expects.
 */
@Timeout(60)
class OneShotDaemonTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void frontEndThatServesASessionAndDisconnectsEndsTheDaemonWithoutFailure() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        final VhostUserDaemon daemon = VhostUserDaemon.inherit("once", new EchoDevice(), pair[1].fd());
        final Thread thread = Thread.ofPlatform().name("once-daemon").start(daemon::run);
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = VhostUserFrontend.over(pair[0]);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 7, true);
            session.start();
            traffic.run(20, WAIT);
            session.stop();
        }
        thread.join(WAIT.toMillis());
        assertThat(thread.isAlive()).as("the daemon ends with its one connection").isFalse();
        assertThat(daemon.failed()).isFalse();
        daemon.close();
    }

    @Test
    void connectionEndingOnAnErrorFailsTheDaemon() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        final VhostUserDaemon daemon = VhostUserDaemon.inherit("once", new EchoDevice(), pair[1].fd());
        final Thread thread = Thread.ofPlatform().name("once-daemon").start(daemon::run);
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = VhostUserFrontend.over(pair[0]);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 7, true);
            session.start();
            assertThat(traffic.submit(0)).isTrue();
            session.queue(0).publish();
            // The guest's memory shrinks under the back-end: its next access faults and ends the connection.
            ram.truncate(0);
            session.queue(0).kickFd().signal();
            assertThat(fe.awaitDisconnect(WAIT)).as("the back-end ends the connection").isTrue();
        }
        thread.join(WAIT.toMillis());
        assertThat(thread.isAlive()).as("the daemon ends with its one connection").isFalse();
        assertThat(daemon.failed()).as("a connection served once that ended on an error").isTrue();
        daemon.close();
    }
}
