package io.jvhost.vhostuser.frontend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import io.jvhost.os.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.os.LibC;
import io.jvhost.os.MemFd;
import io.jvhost.os.UnixSocket;

import static io.jvhost.vhostuser.protocol.FrontendRequest.SET_VRING_CALL;
import static io.jvhost.vhostuser.protocol.FrontendRequest.SET_VRING_ERR;
import static io.jvhost.vhostuser.protocol.FrontendRequest.SET_VRING_KICK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The rings' descriptors a front-end sends: only eventfds are taken, their flags stay the front-end's, and a
 * descriptor that hung up cannot make a worker spin.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PeerDescriptorTest
{
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private EchoBackend backend;
    private OpenFds baseline;

    @BeforeEach
    void startBackend() throws Exception
    {
        backend = EchoBackend.start(dir);
        baseline = OpenFds.snapshot();
    }

    @AfterEach
    void stopBackend() throws Exception
    {
        try
        {
            OpenFds.awaitBaseline(baseline);
        }
        finally
        {
            backend.close();
        }
    }

    /**
     * @return CPU time the live thread called {@code name} has used.
     */
    static long cpuNanos(final String name)
    {
        final Thread thread = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals(name) && t.isAlive()).findFirst()
            .orElseThrow(() -> new AssertionError("no live thread " + name));
        return ManagementFactory.getThreadMXBean().getThreadCpuTime(thread.threadId());
    }

    /**
     * Waits out a window of {@code window} (wall clock, measured by blocking in the kernel: this thread uses no CPU)
     * and returns the CPU time {@code thread} used in it.
     */
    static long cpuNanosOver(final String thread, final Duration window) throws Exception
    {
        final long before = cpuNanos(thread);
        try (io.jvhost.os.Epoll idle = io.jvhost.os.Epoll.create(1))
        {
            final long end = System.nanoTime() + window.toNanos();
            for (long left = window.toMillis(); left > 0; left = (end - System.nanoTime()) / 1_000_000)
            {
                idle.await((int)left);
            }
        }
        return cpuNanos(thread) - before;
    }

    private static void serveOne(final GuestRam ram, final FrontendQueue q) throws Exception
    {
        final long buf = ram.allocate(64, 8);
        q.add(new long[] {buf, buf + 32}, new int[] {32, 32}, 1, 1);
        q.publishAndKick();
        assertThat(Await.until(() -> q.pollUsed() > 0, WAIT)).as("request on queue %d served", q.index()).isTrue();
    }

    @Test
    void callEventfdTheFrontendBlocksReadingStillGetsItsCallsAndKeepsItsFlags() throws Exception
    {
        // A blocking eventfd, as simple VMMs and test harnesses read it.
        final int call = LibC.eventfd(0, LibC.EFD_CLOEXEC);
        final int flagsBefore = LibC.fcntl(call, LibC.F_GETFL, 0);
        final AtomicLong received = new AtomicLong();
        final Thread reader = Thread.ofPlatform().name("blocking-call-reader").start(() ->
        {
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
                if (LibC.readRaw(call, value.address(), 8) == 8)
                {
                    received.addAndGet(value.get(ValueLayout.JAVA_LONG, 0));
                }
            }
        });
        try (GuestRam ram = GuestRam.create(1 << 20, 1);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 16).build())
        {
            session.start();
            fe.vringFile(SET_VRING_CALL, 0, call);
            assertThat(LibC.fcntl(call, LibC.F_GETFL, 0)).as("F_GETFL after SET_VRING_CALL").isEqualTo(flagsBefore);

            serveOne(ram, session.queue(0));
            reader.join(WAIT.toMillis());
            assertThat(reader.isAlive()).as("the blocking read returned").isFalse();
            assertThat(received.get()).as("calls the blocking reader got").isPositive();
            assertThat(LibC.fcntl(call, LibC.F_GETFL, 0)).as("F_GETFL after the calls").isEqualTo(flagsBefore);
            session.stop();
        }
        finally
        {
            if (reader.isAlive())
            {
                // Release the reader if the back-end never signalled.
                try (Arena arena = Arena.ofConfined())
                {
                    final MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
                    one.set(ValueLayout.JAVA_LONG, 0, 1);
                    LibC.writeRaw(call, one.address(), 8);
                }
                reader.join();
            }
            LibC.closeQuietly(call);
        }
    }

    @Test
    void ringDescriptorsThatAreNotEventfdsAreRefusedAndAHungUpOneCannotSpinTheWorker() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        try (GuestRam ram = GuestRam.create(1 << 20, 1);
             MemFd memFd = MemFd.create("not-an-eventfd", 4096);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 16).build())
        {
            session.start();
            // A socket whose peer hung up reports EPOLLHUP (and EPOLLIN) for ever: as a kick it would wake the worker
            // in a loop.
            pair[1].close();
            assertThatThrownBy(() -> fe.vringFile(SET_VRING_KICK, 0, pair[0].fd()))
                .isInstanceOfSatisfying(FrontendException.class, e ->
                    assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED));
            assertThatThrownBy(() -> fe.vringFile(SET_VRING_CALL, 0, memFd.fd()))
                .isInstanceOfSatisfying(FrontendException.class, e ->
                    assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED));
            assertThatThrownBy(() -> fe.vringFile(SET_VRING_ERR, 1, pair[0].fd()))
                .isInstanceOfSatisfying(FrontendException.class, e ->
                    assertThat(e.kind()).isEqualTo(FrontendException.Kind.REFUSED));

            assertThat(cpuNanosOver("echo-worker0", Duration.ofMillis(500)))
                .as("queue 0's worker CPU time over 500 ms").isLessThan(50_000_000L);
            // The refused messages changed nothing: both rings keep their own descriptors and are served.
            serveOne(ram, session.queue(0));
            serveOne(ram, session.queue(1));
            session.stop();
        }
        finally
        {
            pair[0].close();
        }
    }
}
