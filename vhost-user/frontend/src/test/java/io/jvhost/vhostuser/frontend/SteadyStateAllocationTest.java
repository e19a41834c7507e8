package io.jvhost.vhostuser.frontend;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The benchmark path (add, publish, kick, await the call eventfd, collect used elements) allocates nothing in the
 * front-end's thread once warm, nor in the back-end's worker serving it (drain the kick, serve, signal the call on
 * the front-end's eventfds).
 * <p>
 * Measured in a fresh JVM, as a benchmark runs: in a JVM whose JIT profiles were shaped by many other tests, C2 may
 * not inline the JDK's own per-downcall check of the errno capture segment ({@code SharedUtils.checkCaptureSegment}
 * slices it), and then every eventfd write allocates a 32-byte segment that is not ours to remove.
 */
@Timeout(120)
class SteadyStateAllocationTest
{
    private static final int ROUND_TRIPS = 5_000;
    private static final long TIMEOUT_NANOS = 5_000_000_000L;
    private static final String RESULT = "least bytes allocated per run: ";
    private static final String WORKER_RESULT = "least bytes the worker allocated per run: ";

    @TempDir
    Path dir;

    private static long cycle(final FrontendQueue q, final long[] gpas, final int[] lengths)
        throws Exception
    {
        long sum = 0;
        for (int i = 0; i < ROUND_TRIPS; i++)
        {
            final int head = (i & 1) == 0 ? q.add(gpas, lengths, 2, 1) : q.addIndirect(gpas, lengths, 2, 1);
            q.publishAndKick();
            if (q.awaitUsed(TIMEOUT_NANOS) == 0)
            {
                throw new AssertionError("no used buffer within 5 s");
            }
            if (q.usedHead(0) != head)
            {
                throw new AssertionError("used head " + q.usedHead(0) + ", expected " + head);
            }
            sum += q.usedLength(0);
        }
        return sum;
    }

    /**
     * Runs in the child JVM: {@code SteadyStateAllocationTest DIR}; prints the result line.
     */
    public static void main(final String[] args) throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        try (EchoBackend backend = EchoBackend.start(Path.of(args[0]));
             GuestRam ram = GuestRam.create(4L << 20, 2);
             VhostUserFrontend fe = backend.connect();
             VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 64).build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long buf = ram.allocate(4096, 64);
            final long[] gpas = {buf, buf + 100, buf + 1024};
            final int[] lengths = {100, 28, 256};

            long sink = 0;
            for (int i = 0; i < 4; i++)
            {
                sink += cycle(q, gpas, lengths);
            }
            // The least over a few runs: JIT recompilation may allocate now and then, a per-request allocation
            // would show in every run.
            final long worker = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("echo-worker0") && t.isAlive()).findFirst().orElseThrow().threadId();
            long allocated = Long.MAX_VALUE;
            long workerAllocated = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++)
            {
                final long before = threads.getCurrentThreadAllocatedBytes();
                final long workerBefore = threads.getThreadAllocatedBytes(worker);
                sink += cycle(q, gpas, lengths);
                allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
                workerAllocated = Math.min(workerAllocated, threads.getThreadAllocatedBytes(worker) - workerBefore);
            }
            if (sink != 7L * ROUND_TRIPS * 128)
            {
                throw new AssertionError("echoed " + sink + " bytes");
            }
            if (q.missedNotifications() != 0)
            {
                throw new AssertionError("missed notifications: " + q.missedNotifications());
            }
            session.stop();
            System.out.println(RESULT + allocated);
            System.out.println(WORKER_RESULT + workerAllocated);
        }
    }

    @Test
    void submitKickAndAwaitUsedAllocateNothingInSteadyState() throws Exception
    {
        final Path output = dir.resolve("probe.out");
        final Process probe = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny", "-cp",
                System.getProperty("java.class.path"), SteadyStateAllocationTest.class.getName(), dir.toString()))
            .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        assertThat(probe.waitFor(100, TimeUnit.SECONDS)).as("probe finished").isTrue();
        final String out = Files.readString(output);
        assertThat(probe.exitValue()).as(out).isZero();
        final long allocated = Long.parseLong(out.substring(out.indexOf(RESULT) + RESULT.length()).strip()
            .split("\\s")[0]);
        assertThat(allocated).as("bytes allocated by %d round trips", ROUND_TRIPS).isLessThan(1024);
        final long workerAllocated = Long.parseLong(out.substring(out.indexOf(WORKER_RESULT) + WORKER_RESULT.length())
            .strip().split("\\s")[0]);
        assertThat(workerAllocated).as("bytes the back-end's worker allocated serving %d round trips", ROUND_TRIPS)
            .isLessThan(1024);
    }
}
