package io.jvhost.benchmarks.gpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.jvhost.vhostuser.frontend.BackendProcess;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;

/**
 * (d) {@code jvhost rng} as its own process: one request at a time (a single device-writable buffer, as Linux's
 * virtio-rng driver sends them), each kicked and waited for through the call eventfd. There is no C rng back-end in
 * QEMU's tree to compare with; the same-run floor is the eventfd ping-pong.
 */
final class RngWorkload
{
    private static final long TIMEOUT_NANOS = 10_000_000_000L;

    private RngWorkload()
    {
    }

    static void run(final BenchConfig config, final Map<String, Double> metrics) throws Exception
    {
        final Path dir = config.workDir();
        final Path socket = dir.resolve("rng.sock");
        final Path listening = dir.resolve("rng.sock" + config.rngSocketSuffix());
        Files.deleteIfExists(listening);
        final List<String> command = BenchConfig.substitute(config.jvhostRng(), socket);
        Log.info("jvhost rng: starting " + String.join(" ", command));
        try (BackendProcess process = BackendProcess.start(command, listening, dir.resolve("rng.stderr"),
            Duration.ofSeconds(60));
             GuestRam ram = GuestRam.create(16L << 20, 1);
             VhostUserFrontend frontend = VhostUserFrontend.connect(listening, Duration.ofSeconds(10));
             VirtioSession session = VirtioSession.builder(frontend, ram).queues(1, 256).build())
        {
            session.start();
            final FrontendQueue queue = session.queue(0);
            metrics.put(Metrics.D_RNG_64_PER_S, requests(config, ram, queue, 64));
            metrics.put(Metrics.D_RNG_4K_PER_S, requests(config, ram, queue, 4096));
            if (!process.isAlive())
            {
                throw new IllegalStateException("jvhost rng exited during the run; stderr: " + process.stderr());
            }
        }
    }

    private static double requests(final BenchConfig config, final GuestRam ram, final FrontendQueue queue,
        final int bytes) throws Exception
    {
        final long[] gpas = {ram.allocate(bytes, 4096)};
        final int[] lengths = {bytes};
        final long warmEnd = System.nanoTime() + config.warmup().toNanos();
        while (System.nanoTime() < warmEnd)
        {
            request(queue, gpas, lengths, bytes);
        }
        final long start = System.nanoTime();
        final long end = start + config.duration().toNanos();
        long n = 0;
        long last;
        do
        {
            request(queue, gpas, lengths, bytes);
            n++;
            last = System.nanoTime();
        }
        while (last < end);
        final double perSecond = n / ((last - start) / 1e9);
        Log.info(String.format("jvhost rng: %d-byte requests: %.0f/s", bytes, perSecond));
        return perSecond;
    }

    private static void request(final FrontendQueue queue, final long[] gpas, final int[] lengths, final int bytes)
        throws Exception
    {
        if (queue.add(gpas, lengths, 0, 1) < 0)
        {
            throw new IllegalStateException("rng queue full");
        }
        queue.publishAndKick();
        final int n = queue.awaitUsed(TIMEOUT_NANOS);
        if (n != 1 || queue.usedLength(0) != bytes)
        {
            throw new IllegalStateException("rng request of " + bytes + " bytes: " + n + " used, "
                + (n > 0 ? queue.usedLength(0) : 0) + " bytes written");
        }
    }
}
