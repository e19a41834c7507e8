package io.jvhost.vhostuser.frontend;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;

import io.jvhost.os.LogRecorder;
import io.jvhost.os.ThreadTop;
import io.jvhost.vhostuser.backend.VhostUserBackend;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * A front-end that shrinks the memfd of its guest RAM after SET_MEM_TABLE: our next access to it faults. The fault
 * ends that connection with one log line naming it, on a worker (a kick) as on the protocol thread (SET_VRING_ADDR
 * reads the used index), no thread dies of it, and the next front-end is served.
 */
@Timeout(60)
class GuestMemoryFaultTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void truncatedGuestMemoryEndsThatConnectionWithOneLineAndTheNextFrontEndIsServed() throws Exception
    {
        try (Deaths deaths = new Deaths();
             LogRecorder log = LogRecorder.of(VhostUserDaemon.class, VhostUserBackend.class, ThreadTop.class,
                 Class.forName("io.jvhost.vhostuser.backend.Worker"));
             EchoBackend backend = EchoBackend.start(dir))
        {
            for (int round = 0; round < 2; round++)
            {
                truncateThenKick(backend, round);
                // Either worker may meet the shrunk memory first: queue 0's after the kick, or queue 1's if it is
                // woken meanwhile (both rings live in the truncated file).
                assertThat(log.await(WAIT, round + 1, Level.WARNING, "connection dropped").get(round).line()).containsPattern("^WARNING echo:"
                    + " connection dropped: echo-worker[01] faulted on guest memory serving queue [01]:"
                    + " java\\.lang\\.InternalError: a fault occurred in an unsafe memory access operation"
                    + " \\(at io\\.jvhost\\.");
            }
            truncateThenConfigureRing(backend);
            assertThat(log.await(WAIT, 3, Level.WARNING, "connection dropped").get(2).line()).startsWith("WARNING echo: connection dropped:"
                + " SET_VRING_ADDR faulted on guest memory: java.lang.InternalError: a fault occurred in an unsafe"
                + " memory access operation (at io.jvhost.");

            serveOneSession(backend);

            assertThat(backend.isRunning()).as("the daemon's thread").isTrue();
            assertThat(deaths.list()).as("threads that died of an uncaught throwable").isEmpty();
            assertThat(log.lines(Level.WARNING)).as("every warning and error: one line per fault, no stack trace").hasSize(3)
                .allMatch(l -> l.contains("connection dropped") && !l.contains("\n"));
        }
    }

    /**
     * Starts the rings, puts a request on queue 0, shrinks the memory to nothing and kicks: the worker faults.
     */
    private static void truncateThenKick(final EchoBackend backend, final long seed) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, seed, true);
            session.start();
            assertThat(traffic.submit(0)).isTrue();
            session.queue(0).publish();
            ram.truncate(0);
            session.queue(0).kickFd().signal();
            assertThat(fe.awaitDisconnect(WAIT)).as("the back-end ends the connection").isTrue();
        }
    }

    /**
     * Sends the memory table, shrinks the memory, then configures queue 0: binding it faults on the protocol thread.
     */
    private static void truncateThenConfigureRing(final EchoBackend backend) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            session.init();
            fe.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES));
            fe.setMemTable(ram);
            ram.truncate(0);
            // The back-end may already be gone when the later messages of the configuration are sent.
            catchThrowable(() -> session.queue(0).configure(fe, 0));
            assertThat(fe.awaitDisconnect(WAIT)).as("the back-end ends the connection").isTrue();
        }
    }

    private static void serveOneSession(final EchoBackend backend) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, 99, true);
            session.start();
            traffic.run(50, WAIT);
            session.stop();
        }
    }

    /**
     * Threads that died of an uncaught throwable while the test ran (what prints "Exception in thread").
     */
    private static final class Deaths implements AutoCloseable
    {
        private final Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        private final List<String> deaths = new ArrayList<>();

        Deaths()
        {
            Thread.setDefaultUncaughtExceptionHandler((thread, throwable) ->
            {
                synchronized (deaths)
                {
                    deaths.add(thread.getName() + ": " + throwable);
                }
            });
        }

        List<String> list()
        {
            synchronized (deaths)
            {
                return List.copyOf(deaths);
            }
        }

        @Override
        public void close()
        {
            Thread.setDefaultUncaughtExceptionHandler(previous);
        }
    }
}
