package io.jvhost.e2e;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import io.jvhost.device.gpu.GpuProtocol;
import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * {@code jvhost rng} and {@code jvhost gpu}, each run as its own process, against front-ends that shrink the memfd
 * of their guest RAM after SET_MEM_TABLE: twice then a kick (a worker faults), once then a ring's configuration (the
 * protocol thread faults). Each fault ends that connection with one log line naming it, nothing dies with a stack
 * trace, and the next front-end is served in full.
 */
@Timeout(180)
class TruncatedGuestMemoryTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String FAULT = "faulted on guest memory";

    @TempDir
    Path dir;

    /** Asks the device for something and checks the answer, on a front-end whose memory stays whole. */
    @FunctionalInterface
    private interface Served
    {
        void check(Path socket) throws Exception;
    }

    @Test
    void rngFrontEndsThatShrinkTheirMemoryLoseOnlyTheirConnectionAndTheNextGetsEntropy() throws Exception
    {
        final Path socket = dir.resolve("rng.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "rng", "-s",
            dir.resolve("rng.sock").toString()))
        {
            faultsThenServed(backend, socket, "rng0", 1, TruncatedGuestMemoryTest::entropy);
        }
    }

    @Test
    void gpuFrontEndsThatShrinkTheirMemoryLoseOnlyTheirConnectionAndTheNextGetsItsDisplayInfo() throws Exception
    {
        final Path socket = dir.resolve("gpu.sock");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "gpu", "-s", socket.toString(),
            "--headless"))
        {
            faultsThenServed(backend, socket, "gpu0", 2, TruncatedGuestMemoryTest::displayInfo);
        }
    }

    private static void faultsThenServed(final JvhostProcess backend, final Path socket, final String name,
        final int queues, final Served served) throws Exception
    {
        truncateThenKick(socket, queues);
        awaitLines(backend, FAULT, 1);
        truncateThenKick(socket, queues);
        awaitLines(backend, FAULT, 2);
        served.check(socket);
        truncateThenConfigureRing(socket, queues);
        awaitLines(backend, FAULT, 3);
        served.check(socket);

        assertThat(backend.process().isAlive()).isTrue();
        final String log = backend.log();
        final List<String> faults = lines(log, FAULT);
        assertThat(faults).as("one line per fault, naming the connection:\n%s", log).hasSize(3);
        assertThat(faults.subList(0, 2)).allMatch(l -> l.contains(" WARN  " + name + ": connection dropped: " + name
            + "-worker0 " + FAULT + " serving queue 0: java.lang.InternalError: a fault occurred in an unsafe memory"
            + " access operation (at io.jvhost."));
        assertThat(faults.get(2)).contains(" WARN  " + name + ": connection dropped: SET_VRING_ADDR " + FAULT
            + ": java.lang.InternalError");
        assertThat(log).doesNotContain("Exception in thread").doesNotContain(" ERROR ");
        assertThat(backend.terminate(WAIT)).isZero();
    }

    /**
     * Starts the rings, puts a request on queue 0, shrinks the memory to nothing and kicks: the worker faults. From
     * the truncation on, nothing here touches the RAM (the kick is the bare eventfd).
     */
    private static void truncateThenKick(final Path socket, final int queues) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(queues, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long out = ram.allocate(4096, 4096);
            final long in = ram.allocate(4096, 4096);
            q.add(new long[] {out, in}, new int[] {GpuProtocol.HDR_SIZE, 4096}, 1, 1);
            q.publish();
            ram.truncate(0);
            q.kickFd().signal();
            assertThat(fe.awaitDisconnect(WAIT)).as("the back-end ends the connection").isTrue();
        }
    }

    /**
     * Sends the memory table, shrinks the memory, then configures queue 0: binding it faults on the protocol thread.
     */
    private static void truncateThenConfigureRing(final Path socket, final int queues) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(queues, 64).build())
        {
            session.init();
            fe.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.PROTOCOL_FEATURES));
            fe.setMemTable(ram);
            ram.truncate(0);
            // The back-end may be gone before the last messages of the configuration are sent.
            catchThrowable(() -> session.queue(0).configure(fe, 0));
            assertThat(fe.awaitDisconnect(WAIT)).as("the back-end ends the connection").isTrue();
        }
    }

    private static void entropy(final Path socket) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(1, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long buf = ram.allocate(4096, 4096);
            ram.fill(buf, 4096, (byte)0);
            q.add(new long[] {buf}, new int[] {4096}, 0, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(q.usedLength(0)).isEqualTo(4096);
            final byte[] bytes = ram.read(buf, 4096);
            assertThat(countZeros(bytes)).as("zero bytes of 4096 random ones").isLessThan(64);
            session.stop();
        }
    }

    private static void displayInfo(final Path socket) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long out = ram.allocate(4096, 4096);
            final long in = ram.allocate(4096, 4096);
            ram.fill(out, GpuProtocol.HDR_SIZE, (byte)0);
            ram.segment().set(U32, ram.offsetOf(out), GpuProtocol.CMD_GET_DISPLAY_INFO);
            q.add(new long[] {out, in}, new int[] {GpuProtocol.HDR_SIZE, 4096}, 1, 1);
            q.publishAndKick();
            assertThat(q.awaitUsed(WAIT)).isEqualTo(1);
            assertThat(ram.segment().get(U32, ram.offsetOf(in))).as("response type")
                .isEqualTo(GpuProtocol.RESP_OK_DISPLAY_INFO);
            session.stop();
        }
    }

    private static int countZeros(final byte[] bytes)
    {
        int zeros = 0;
        for (final byte b : bytes)
        {
            zeros += b == 0 ? 1 : 0;
        }
        return zeros;
    }

    private static List<String> lines(final String log, final String part)
    {
        return Arrays.stream(log.split("\n")).filter(l -> l.contains(part)).toList();
    }

    /**
     * Waits until the back-end's log holds {@code count} lines containing {@code part}: the front-end sees the
     * connection end before the back-end has written why.
     */
    private static void awaitLines(final JvhostProcess backend, final String part, final int count)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (lines(backend.log(), part).size() < count)
        {
            assertThat(System.nanoTime() - deadline).as("%d lines with '%s' in:\n%s", count, part, backend.log())
                .isNegative();
            Thread.sleep(10);
        }
    }
}
