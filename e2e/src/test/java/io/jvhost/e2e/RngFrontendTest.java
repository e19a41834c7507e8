package io.jvhost.e2e;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import io.jvhost.e2e.support.JvhostProcess;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.VhostUserFrontend;
import io.jvhost.vhostuser.frontend.VirtioSession;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitRingLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_NEXT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jvhost rng}, run as its own process, driven by the in-process front-end: many requests of mixed shapes,
 * hostile chains, and a front-end that vanishes mid-stream followed by one that is served.
 */
@Timeout(120)
class RngFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final byte SENTINEL = (byte)0xA5;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private record Pending(long[] gpas, int[] lengths, long total)
    {
    }

    @Test
    void tenThousandMixedRequestsBadChainsAndAFrontEndThatVanishes() throws Exception
    {
        final Path socket = dir.resolve("rng.sock0");
        try (JvhostProcess backend = JvhostProcess.start(dir, List.of(socket), "rng", "-s",
            dir.resolve("rng.sock").toString()))
        {
            mixedRequests(socket, 10_000);
            badChains(socket);
            vanishMidStream(socket);
            mixedRequests(socket, 500);

            assertThat(backend.process().isAlive()).isTrue();
            final String log = backend.log();
            assertThat(log).doesNotContain("ERROR").contains("invalid descriptor chain returned unused");
            assertThat(backend.terminate(Duration.ofSeconds(10))).isZero();
        }
    }

    private static VirtioSession session(final VhostUserFrontend fe, final GuestRam ram) throws Exception
    {
        return VirtioSession.builder(fe, ram).queues(1, 256).build();
    }

    /**
     * Requests of 1 B to 64 KiB, one to four writable buffers each (some in indirect tables, some across the
     * boundary between the two RAM regions), up to 32 in flight; every byte of every buffer must be overwritten
     * with something that, over all requests, looks uniformly random.
     */
    private void mixedRequests(final Path socket, final int count) throws Exception
    {
        final Random random = new Random(count);
        final long[] histogram = new long[256];
        try (GuestRam ram = GuestRam.create(64L << 20, 2);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = session(fe, ram))
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final long boundary = ram.region(1).guestPhysAddr();
            assertThat(ram.nextFree()).as("ring memory stays below the buffer window")
                .isLessThan(boundary - (17L << 20));
            final java.util.Map<Integer, Pending> byHead = new java.util.HashMap<>();
            int sent = 0;
            int done = 0;
            long cursor = 0;
            Pending straddler = null;
            while (done < count)
            {
                while (sent < count && byHead.size() < 32)
                {
                    final int buffers = 1 + random.nextInt(4);
                    final long[] gpas = new long[buffers];
                    final int[] lengths = new int[buffers];
                    long total = 0;
                    boolean straddles = false;
                    for (int b = 0; b < buffers; b++)
                    {
                        lengths[b] = 1 + random.nextInt(random.nextBoolean() ? 256 : 16384);
                        if (b == 0 && null == straddler && random.nextInt(16) == 0)
                        {
                            gpas[b] = boundary - 100; // straddles the two regions; one request at a time
                            straddles = true;
                        }
                        else
                        {
                            // 16 KiB slots in a 16 MiB window below the boundary: no two in-flight buffers overlap.
                            cursor = (cursor + 16384) % (16L << 20);
                            gpas[b] = boundary - (17L << 20) + cursor;
                        }
                        total += lengths[b];
                    }
                    for (int b = 0; b < buffers; b++)
                    {
                        ram.fill(gpas[b], lengths[b], SENTINEL);
                    }
                    final int head = random.nextInt(4) == 0 ? q.addIndirect(gpas, lengths, 0, buffers)
                        : q.add(gpas, lengths, 0, buffers);
                    if (head < 0)
                    {
                        break;
                    }
                    final Pending p = new Pending(gpas, lengths, total);
                    byHead.put(head, p);
                    if (straddles)
                    {
                        straddler = p;
                    }
                    sent++;
                }
                q.publishAndKick();
                final int n = q.awaitUsed(WAIT);
                assertThat(n).as("used buffers after %d of %d requests", done, count).isPositive();
                for (int i = 0; i < n; i++)
                {
                    final Pending p = byHead.remove(q.usedHead(i));
                    assertThat(p).as("used head %d was pending", q.usedHead(i)).isNotNull();
                    if (p == straddler)
                    {
                        straddler = null;
                    }
                    assertThat((long)q.usedLength(i)).as("bytes written").isEqualTo(p.total());
                    long sentinels = 0;
                    for (int b = 0; b < p.gpas().length; b++)
                    {
                        for (final byte v : ram.read(p.gpas()[b], p.lengths()[b]))
                        {
                            histogram[v & 0xFF]++;
                            sentinels += v == SENTINEL ? 1 : 0;
                        }
                    }
                    if (p.total() >= 4096)
                    {
                        assertThat(sentinels).as("buffer overwritten").isLessThan(p.total() / 64);
                    }
                    done++;
                }
            }
            session.stop();
        }
        final long total = java.util.Arrays.stream(histogram).sum();
        final double expected = total / 256.0;
        double chi = 0;
        for (final long c : histogram)
        {
            chi += (c - expected) * (c - expected) / expected;
        }
        assertThat(chi).as("chi-square of all bytes served").isLessThan(400.0);
    }

    /**
     * Hostile chains written straight into the ring: each comes back unused (or, with a head out of range, not at
     * all), and valid requests behind them are still served.
     */
    private void badChains(final Path socket) throws Exception
    {
        try (GuestRam ram = GuestRam.create(8L << 20, 1);
             VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
             VirtioSession session = VirtioSession.builder(fe, ram).queues(1, 64)
                 .driverFeatures(VirtioSession.DEFAULT_DRIVER_FEATURES
                     & ~io.jvhost.virtqueue.VirtioFeatures.bit(io.jvhost.virtqueue.VirtioFeatures.RING_EVENT_IDX))
                 .build())
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final DriverQueue d = q.driver();
            final long buf = ram.allocate(4096, 4096);
            final long end = ram.region(0).guestPhysEnd();
            d.writeDescriptor(0, buf, 16, DESC_F_WRITE | DESC_F_NEXT, 1);           // loop
            d.writeDescriptor(1, buf, 16, DESC_F_WRITE | DESC_F_NEXT, 0);
            d.writeDescriptor(2, end + 4096, 64, DESC_F_WRITE, 0);                  // outside memory
            d.writeDescriptor(3, 0xFFFF_FFFF_FFFF_F000L, 0x2000, DESC_F_WRITE, 0);  // wraps
            d.writeDescriptor(4, buf, 16, 0, 0);                                    // readable: refused by rng
            d.writeDescriptor(10, buf, 32, DESC_F_WRITE, 0);                        // valid
            for (final int head : new int[] {0, 2, 3, 64, 4, 10})
            {
                d.pushAvailRaw(head);                                               // 64: head out of range
            }
            q.kickFd().signal();
            final java.util.Map<Integer, Integer> used = new java.util.HashMap<>();
            final long deadline = System.nanoTime() + WAIT.toNanos();
            int seen = 0;
            while (used.size() < 5 && System.nanoTime() < deadline)
            {
                final int idx = ram.segment().get(U16, ram.offsetOf(q.usedGpa() + SplitRingLayout.USED_IDX_OFFSET))
                    & 0xFFFF;
                for (; seen != idx; seen++)
                {
                    final long elem = q.usedGpa() + SplitRingLayout.usedElemOffset(seen % 64);
                    used.put(ram.segment().get(U32, ram.offsetOf(elem)),
                        ram.segment().get(U32, ram.offsetOf(elem + 4)));
                }
                Thread.sleep(1);
            }
            assertThat(used).containsEntry(0, 0).containsEntry(2, 0).containsEntry(3, 0).containsEntry(4, 0)
                .containsEntry(10, 32).doesNotContainKey(64);
        }
    }

    /**
     * Requests in flight when the front-end closes its socket without stopping anything.
     */
    private void vanishMidStream(final Path socket) throws Exception
    {
        final GuestRam ram = GuestRam.create(8L << 20, 1);
        final VhostUserFrontend fe = VhostUserFrontend.connect(socket, WAIT);
        final VirtioSession session = session(fe, ram);
        session.start();
        final FrontendQueue q = session.queue(0);
        for (int i = 0; i < 64; i++)
        {
            q.add(new long[] {ram.allocate(65536, 4096)}, new int[] {65536}, 0, 1);
        }
        q.publishAndKick();
        fe.close();
        try
        {
            session.close();
        }
        catch (final RuntimeException expected)
        {
            // The session's own teardown cannot talk to a closed socket; what matters is the back-end.
        }
        ram.close();
    }
}
