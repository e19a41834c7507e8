package io.jvhost.vhostuser.frontend;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A front-end that goes away with requests in flight: the back-end stops the rings, releases everything it held for
 * that connection, and serves the next front-end from scratch.
 */
@Timeout(60)
class DisconnectTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private EchoBackend backend;

    @BeforeEach
    void startBackend() throws Exception
    {
        backend = EchoBackend.start(dir);
    }

    @AfterEach
    void stopBackend() throws Exception
    {
        backend.close();
    }

    private void serveOneSession(final long requests, final long seed) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 8, seed, true);
            session.start();
            traffic.run(requests, WAIT);
            session.stop();
        }
    }

    @Test
    void frontendThatDisconnectsWithRequestsInFlightIsCleanedUpAndTheNextOneIsServed() throws Exception
    {
        serveOneSession(50, 1);
        final OpenFds baseline = OpenFds.snapshot();

        for (int round = 0; round < 3; round++)
        {
            backend.device().setDelayPerChain(1_000_000);
            final long chainsBefore = backend.device().chains();
            final GuestRam ram = GuestRam.create(8L << 20, 2);
            final VhostUserFrontend fe = backend.connect();
            final VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build();
            final EchoTraffic traffic = new EchoTraffic(ram, session.queues(), 16, 10 + round, true);
            session.start();
            for (int q = 0; q < 2; q++)
            {
                for (int i = 0; i < 16; i++)
                {
                    assertThat(traffic.submit(q)).isTrue();
                }
                session.queue(q).publishAndKick();
            }
            // Let the device get going, then vanish mid-stream: no stop, no GET_VRING_BASE.
            final long end = System.nanoTime() + WAIT.toNanos();
            while (backend.device().chains() == chainsBefore && System.nanoTime() - end < 0)
            {
                Thread.sleep(1);
            }
            assertThat(backend.device().chains() - chainsBefore).as("requests served before the disconnect")
                .isPositive().isLessThan(32);
            fe.close();
            session.close();
            ram.close();
            backend.device().setDelayPerChain(0);

            OpenFds.awaitBaseline(baseline);
            serveOneSession(500, 20 + round);
            OpenFds.awaitBaseline(baseline);
        }
        assertThat(backend.isRunning()).isTrue();
    }

    @Test
    void frontendThatDisconnectsMidMessageIsDroppedAndTheNextOneIsServed() throws Exception
    {
        serveOneSession(10, 2);
        final OpenFds baseline = OpenFds.snapshot();
        try (VhostUserFrontend fe = backend.connect())
        {
            fe.getFeatures();
            // Half a header, then gone.
            fe.sendRawBytes(MemorySegment.ofArray(new byte[] {1, 0, 0, 0, 1, 0}), null);
        }
        OpenFds.awaitBaseline(baseline);
        serveOneSession(100, 3);
        OpenFds.awaitBaseline(baseline);
    }
}
