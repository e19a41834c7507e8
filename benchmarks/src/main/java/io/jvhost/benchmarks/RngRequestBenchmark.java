package io.jvhost.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.jvhost.device.rng.EntropySource;
import io.jvhost.device.rng.RngDevice;
import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.vhostuser.backend.VhostUserDaemon;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One rng request through the whole stack, one at a time: the front-end places a chain and kicks the eventfd, the
 * back-end's worker wakes from epoll, reads {@code /dev/urandom} into guest memory and signals the call eventfd,
 * and the front-end wakes. The baseline is the bare cross-thread eventfd round trip the request cannot beat.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class RngRequestBenchmark
{
    /**
     * A jvhost rng back-end in this JVM and a front-end session to it.
     */
    @State(Scope.Thread)
    public static class Rng
    {
        @Param({"64", "4096"})
        int bytes;

        Path dir;
        EntropySource source;
        VhostUserDaemon daemon;
        Thread server;
        GuestRam ram;
        VhostUserFrontend frontend;
        VirtioSession session;
        FrontendQueue queue;
        final long[] gpas = new long[1];
        final int[] lengths = new int[1];

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            dir = Files.createTempDirectory("jvhost-bench-");
            source = EntropySource.open("/dev/urandom");
            final Path socket = dir.resolve("rng.sock");
            daemon = VhostUserDaemon.listen("rng0", new RngDevice("rng0", source, RngDevice.MAX_PERIOD_MS,
                Long.MAX_VALUE), socket);
            server = Thread.ofPlatform().daemon(true).start(daemon::run);
            ram = GuestRam.create(16L << 20, 1);
            frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
            session = VirtioSession.builder(frontend, ram).queues(1, 256).build();
            session.start();
            queue = session.queue(0);
            gpas[0] = ram.allocate(bytes, 4096);
            lengths[0] = bytes;
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception
        {
            session.close();
            frontend.close();
            daemon.close();
            server.join(5000);
            ram.close();
            source.close();
            Files.deleteIfExists(dir);
        }
    }

    /**
     * Two eventfds and a thread that answers each ping with a pong: the floor of any kick → work → call cycle.
     */
    @State(Scope.Thread)
    public static class PingPong
    {
        EventFd ping;
        EventFd pong;
        Epoll pongWait;
        Thread echo;
        volatile boolean running = true;

        @Setup(Level.Trial)
        public void setUp() throws Exception
        {
            ping = EventFd.create();
            pong = EventFd.create();
            pongWait = Epoll.create(1);
            pongWait.add(pong.fd(), LibC.EPOLLIN, 0);
            echo = Thread.ofPlatform().daemon(true).start(() ->
            {
                try (Epoll pingWait = Epoll.create(1))
                {
                    pingWait.add(ping.fd(), LibC.EPOLLIN, 0);
                    while (running)
                    {
                        if (pingWait.await(100) > 0 && ping.drain() > 0)
                        {
                            pong.signal();
                        }
                    }
                }
                catch (final Exception e)
                {
                    throw new IllegalStateException(e);
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException
        {
            running = false;
            echo.join(1000);
            pongWait.close();
            ping.close();
            pong.close();
        }
    }

    @Benchmark
    public int rngRequest(final Rng rng) throws Exception
    {
        final FrontendQueue q = rng.queue;
        q.add(rng.gpas, rng.lengths, 0, 1);
        q.publishAndKick();
        int n;
        while ((n = q.awaitUsed(1_000_000_000L)) == 0)
        {
            Thread.onSpinWait();
        }
        return q.usedLength(0) + n;
    }

    @Benchmark
    public long baselineEventfdRoundTrip(final PingPong p) throws Exception
    {
        p.ping.signal();
        while (p.pongWait.await(1000) == 0)
        {
            Thread.onSpinWait();
        }
        return p.pong.drain();
    }
}
