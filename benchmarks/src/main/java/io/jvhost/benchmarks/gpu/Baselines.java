package io.jvhost.benchmarks.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import org.HdrHistogram.Histogram;

/**
 * The same-run floors the back-ends are read against, measured in GpuBench's own process between the back-end runs
 * of each round (so machine drift moves them too).
 */
final class Baselines
{
    private Baselines()
    {
    }

    /**
     * One frame's bytes copied with {@link MemorySegment#copy} between two off-heap buffers, back to back: the cost of
     * the single copy a back-end cannot avoid (guest pages into its image). A back-end's frame also costs the copy
     * into the UPDATE message and the display's read and composite, so it lands well below this.
     */
    static void memcpyFrame(final BenchConfig config, final Map<String, Double> metrics)
    {
        final long bytes = (long)config.width() * config.height() * GpuGuest.BYTES_PER_PIXEL;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment src = arena.allocate(bytes, 4096);
            final MemorySegment dst = arena.allocate(bytes, 4096);
            for (long i = 0; i < bytes; i += 8)
            {
                src.set(ValueLayout.JAVA_LONG, i, i * 0x9E3779B97F4A7C15L);
            }
            dst.fill((byte)1);
            final long warmEnd = System.nanoTime() + config.warmup().toNanos();
            while (System.nanoTime() < warmEnd)
            {
                MemorySegment.copy(src, 0, dst, 0, bytes);
            }
            final long start = System.nanoTime();
            final long end = start + config.duration().toNanos();
            long frames = 0;
            long last;
            do
            {
                MemorySegment.copy(src, 0, dst, 0, bytes);
                frames++;
                last = System.nanoTime();
            }
            while (last < end);
            final double seconds = (last - start) / 1e9;
            metrics.put(Metrics.BASE_MEMCPY_FPS, frames / seconds);
            metrics.put(Metrics.BASE_MEMCPY_MBPS, frames * (double)bytes / seconds / 1e6);
            Log.info(String.format("baseline: MemorySegment.copy of one frame: %.0f frames/s, %.0f MB/s",
                metrics.get(Metrics.BASE_MEMCPY_FPS), metrics.get(Metrics.BASE_MEMCPY_MBPS)));
        }
    }

    /**
     * An eventfd ping-pong between two threads of this process, each waiting in epoll as the front-end waits for a
     * call and a back-end worker for a kick: the floor of any kick → work → call cycle.
     */
    static void eventfdPingPong(final BenchConfig config, final Map<String, Double> metrics) throws Exception
    {
        final Histogram rtt = new Histogram(60_000_000_000L, 3);
        try (EventFd ping = EventFd.create();
             EventFd pong = EventFd.create();
             Epoll pongWait = Epoll.create(1))
        {
            pongWait.add(pong.fd(), LibC.EPOLLIN, 0);
            final AtomicBoolean running = new AtomicBoolean(true);
            final Thread echo = Thread.ofPlatform().daemon(true).name("eventfd-echo").start(() ->
            {
                try (Epoll pingWait = Epoll.create(1))
                {
                    pingWait.add(ping.fd(), LibC.EPOLLIN, 0);
                    while (running.get())
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
            final long warmEnd = System.nanoTime() + config.warmup().toNanos();
            while (System.nanoTime() < warmEnd)
            {
                roundTrip(ping, pong, pongWait);
            }
            final long start = System.nanoTime();
            final long end = start + config.duration().toNanos();
            long last;
            do
            {
                final long t0 = System.nanoTime();
                roundTrip(ping, pong, pongWait);
                last = System.nanoTime();
                rtt.recordValue(last - t0);
            }
            while (last < end);
            running.set(false);
            echo.join(1000);
            metrics.put(Metrics.BASE_EVENTFD_P50_US, rtt.getValueAtPercentile(50) / 1e3);
            metrics.put(Metrics.BASE_EVENTFD_P99_US, rtt.getValueAtPercentile(99) / 1e3);
            metrics.put(Metrics.BASE_EVENTFD_P999_US, rtt.getValueAtPercentile(99.9) / 1e3);
            metrics.put(Metrics.BASE_EVENTFD_PER_S, rtt.getTotalCount() / ((last - start) / 1e9));
            Log.info(String.format("baseline: eventfd ping-pong: %.0f round trips/s, p50 %.1f us, p99 %.1f us,"
                + " p99.9 %.1f us", metrics.get(Metrics.BASE_EVENTFD_PER_S), metrics.get(Metrics.BASE_EVENTFD_P50_US),
                metrics.get(Metrics.BASE_EVENTFD_P99_US), metrics.get(Metrics.BASE_EVENTFD_P999_US)));
        }
    }

    private static void roundTrip(final EventFd ping, final EventFd pong, final Epoll pongWait) throws Exception
    {
        ping.signal();
        int waits = 0;
        while (pongWait.await(1000) == 0)
        {
            if (++waits == 10)
            {
                throw new IllegalStateException("the eventfd echo thread did not answer within 10 s");
            }
        }
        pong.drain();
    }
}
