package io.jvhost.e2e;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendException;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.vhostuser.protocol.FrontendRequest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost rng --socket-count 2} with a hostile front-end on socket 0 whose call descriptor cannot take a write
 * without blocking (an eventfd it saturated, a full pipe), and which clears the descriptor's O_NONBLOCK as any
 * front-end sharing it can: socket 1 keeps being served at its rate, the back-end's descriptors come back to their
 * count once the attacker leaves, and SIGTERM stops the process within a second even during the attack.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RngCallFdAttackTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration WINDOW = Duration.ofSeconds(1);
    private static final long SATURATED = 0xFFFF_FFFF_FFFF_FFFEL;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"saturated-eventfd", "full-pipe"})
    void callFdAttackOnOneSocketLeavesTheOtherServedAndSigtermStillStopsTheProcess(final String attack)
        throws Exception
    {
        final Path victimSocket = dir.resolve("rng.sock1");
        final Path attackedSocket = dir.resolve("rng.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(attackedSocket, victimSocket),
                 JvhostProcess.daemonJvmOptions(), "rng", "-s", dir.resolve("rng.sock").toString(), "-c", "2");
             GuestRam victimRam = GuestRam.create(8L << 20, 1);
             VhostUserFrontend victimFe = VhostUserFrontend.connect(victimSocket, WAIT);
             VirtioSession victim = VirtioSession.builder(victimFe, victimRam).queues(1, 64).build())
        {
            victim.start();
            served(victim, WINDOW); // warm-up: class loading and the JIT in both processes
            final long baseline = served(victim, WINDOW);
            final long fdBaseline = openFds(backend);
            assertThat(baseline).as("requests served on socket 1 in %s without an attack", WINDOW).isPositive();

            final long underAttack;
            try (Attacker attacker = new Attacker(attackedSocket, attack))
            {
                attacker.start();
                assertThat(Await.until(() -> attacker.served.get() > 0, WAIT)).as("the attacker's ring is served")
                    .isTrue();
                underAttack = served(victim, WINDOW);
            }
            System.out.println(attack + ": socket 1 served " + baseline + " requests in " + WINDOW + " before, "
                + underAttack + " during the attack on socket 0");
            assertThat(underAttack).as("requests served on socket 1 during the %s attack (%d before)", attack,
                baseline).isGreaterThanOrEqualTo(baseline / 4);
            assertThat(Await.until(() -> openFds(backend) <= fdBaseline, WAIT))
                .as("back-end descriptors after the attacker left (%d before)", fdBaseline).isTrue();

            try (Attacker attacker = new Attacker(attackedSocket, attack))
            {
                attacker.start();
                assertThat(Await.until(() -> attacker.served.get() > 0, WAIT)).isTrue();
                final long start = System.nanoTime();
                backend.terminate(Duration.ofSeconds(1));
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
            }
            assertThat(backend.log()).doesNotContain("ERROR");
        }
    }

    /**
     * @return requests (64 bytes each, up to 16 in flight) the back-end completed on {@code session}'s queue 0 in
     *     {@code window}.
     */
    private static long served(final VirtioSession session, final Duration window) throws Exception
    {
        final FrontendQueue q = session.queue(0);
        final GuestRam ram = session.ram();
        final long[] gpa = {0};
        final int[] length = {64};
        final long base = ram.allocate(16 * 64, 64);
        long done = 0;
        int slot = 0;
        final long end = System.nanoTime() + window.toNanos();
        while (System.nanoTime() - end < 0)
        {
            while (q.inFlight() < 16)
            {
                gpa[0] = base + 64L * (slot++ % 16);
                q.add(gpa, length, 0, 1);
            }
            q.publishAndKick();
            final int n = q.awaitUsed(WAIT);
            assertThat(n).as("requests completed on socket 1 after %d", done).isPositive();
            done += n;
        }
        return done;
    }

    private static long openFds(final JvhostProcess backend)
    {
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(backend.process().pid()), "fd")))
        {
            return fds.count();
        }
        catch (final IOException e)
        {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A front-end on the attacked socket: a normal session, then SET_VRING_CALL with the hostile descriptor, whose
     * O_NONBLOCK it clears, then requests without end (it polls the used ring: no call reaches it).
     */
    private final class Attacker implements AutoCloseable
    {
        final GuestRam ram;
        final VhostUserFrontend fe;
        final VirtioSession session;
        final int hostile;
        final AtomicLong served = new AtomicLong();
        final AtomicBoolean running = new AtomicBoolean(true);
        Thread thread;

        Attacker(final Path socket, final String attack) throws Exception
        {
            hostile = "full-pipe".equals(attack) ? fullPipe() : saturatedEventFd();
            ram = GuestRam.create(8L << 20, 1);
            fe = VhostUserFrontend.connect(socket, WAIT);
            session = VirtioSession.builder(fe, ram).queues(1, 64).build();
            session.start();
            try
            {
                fe.vringFile(FrontendRequest.SET_VRING_CALL, 0, hostile);
            }
            catch (final FrontendException refused)
            {
                // The back-end may refuse the descriptor; the attack goes on with the session's own.
            }
            // The open file description is shared: whatever the back-end set, the front-end can clear.
            LibC.fcntl(hostile, LibC.F_SETFL, LibC.fcntl(hostile, LibC.F_GETFL, 0) & ~LibC.O_NONBLOCK);
        }

        void start()
        {
            thread = Thread.ofPlatform().name("attacker").daemon(true).start(() ->
            {
                final FrontendQueue q = session.queue(0);
                final long buffer = ram.allocate(64, 64);
                try
                {
                    while (running.get())
                    {
                        q.add(new long[] {buffer}, new int[] {64}, 0, 1);
                        q.publishAndKick();
                        while (running.get() && q.pollUsed() == 0)
                        {
                            LockSupport.parkNanos(200_000);
                        }
                        served.incrementAndGet();
                    }
                }
                catch (final RuntimeException e)
                {
                    // The back-end went away (SIGTERM).
                }
            });
        }

        @Override
        public void close() throws Exception
        {
            running.set(false);
            thread.join(WAIT.toMillis());
            try
            {
                session.close();
            }
            catch (final RuntimeException e)
            {
                // The back-end may be gone.
            }
            fe.close();
            ram.close();
            LibC.closeQuietly(hostile);
        }
    }

    /**
     * @return a blocking eventfd whose counter is at its maximum: a write would wait for a read.
     */
    private static int saturatedEventFd() throws Exception
    {
        final int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            value.set(ValueLayout.JAVA_LONG, 0, SATURATED);
            assertThat(LibC.writeRaw(fd, value.address(), 8)).isEqualTo(8);
        }
        return fd;
    }

    /**
     * @return a FIFO opened for reading and writing, filled until a write would wait.
     */
    private int fullPipe() throws Exception
    {
        final Path fifo = Files.createTempDirectory(dir, "fifo").resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor()).isZero();
        final int fd = LibC.open(fifo.toString(), O_RDWR | O_CLOEXEC | LibC.O_NONBLOCK);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment chunk = arena.allocate(4096);
            long n;
            while ((n = LibC.writeRaw(fd, chunk.address(), chunk.byteSize())) > 0)
            {
                // Filling the pipe's buffer by pages...
            }
            while ((n = LibC.writeRaw(fd, chunk.address(), 1)) > 0)
            {
                // ...and whatever a page left.
            }
            assertThat(n).isEqualTo(-Errno.EAGAIN);
        }
        return fd;
    }
}
