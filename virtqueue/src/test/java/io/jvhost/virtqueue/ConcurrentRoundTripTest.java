package io.jvhost.virtqueue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.GPA0;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A driver thread and a device thread share one bounded ring and both spin: every chain must come back exactly once,
 * in order, with the driver's payload seen by the device and the device's reply seen by the driver.
 */
class ConcurrentRoundTripTest
{
    private static final int N = 1_000_000;
    private static final int SIZE = 256;
    private static final int SLOTS = 256;

    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean stop;

    private void fail(final Throwable t)
    {
        failure.compareAndSet(null, t);
        stop = true;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void driverAndDeviceThreadsRoundTripAMillionChains() throws Exception
    {
        try (Fixture f = new Fixture(SIZE, ALL, 4))
        {
            final long outBase = f.alloc(SLOTS * 16L);
            final long inBase = f.alloc(SLOTS * 8L);
            final long[] deviceSeen = {0};

            final Thread device = new Thread(() ->
            {
                try
                {
                    final DescriptorChain chain = new DescriptorChain(4);
                    long expected = 0;
                    while (expected < N && !stop)
                    {
                        if (!f.queue.pop(chain))
                        {
                            Thread.onSpinWait();
                            continue;
                        }
                        final ChainReader reader = chain.reader();
                        final long seq = reader.readLong();
                        final long check = reader.readLong();
                        if (seq != expected || check != ~seq)
                        {
                            throw new AssertionError("device saw seq=" + seq + ", check=" + check + ", expected "
                                + expected + " in " + chain);
                        }
                        final ChainWriter writer = chain.writer();
                        writer.writeLong(seq * 3 + 1);
                        f.queue.pushUsed(chain.head(), (int)writer.written());
                        f.queue.needsNotification();
                        expected++;
                    }
                    deviceSeen[0] = expected;
                }
                catch (final Throwable t)
                {
                    fail(t);
                }
            }, "device");
            device.start();

            final long[] gpas = new long[2];
            final int[] lengths = {16, 8};
            final long[] seqOfHead = new long[SIZE];
            final boolean[] pending = new boolean[SIZE];
            long next = 0;
            long completed = 0;
            try
            {
                while (completed < N && !stop)
                {
                    boolean progress = false;
                    while (next < N)
                    {
                        final int slot = (int)(next & (SLOTS - 1));
                        gpas[0] = outBase + slot * 16L;
                        gpas[1] = inBase + slot * 8L;
                        f.ram0.set(SplitRingLayout.U64, gpas[0] - GPA0, next);
                        f.ram0.set(SplitRingLayout.U64, gpas[0] - GPA0 + 8, ~next);
                        final int head = f.driver.add(gpas, lengths, 1, 1);
                        if (head < 0)
                        {
                            break;
                        }
                        if (pending[head])
                        {
                            throw new AssertionError("head handed out twice: " + head);
                        }
                        pending[head] = true;
                        seqOfHead[head] = next++;
                        progress = true;
                    }
                    if (progress)
                    {
                        f.driver.publish();
                        f.driver.needsKick();
                    }
                    long used;
                    while (-1 != (used = f.driver.pollUsed()))
                    {
                        final int head = (int)(used >>> 32);
                        final int len = (int)used;
                        if (!pending[head] || seqOfHead[head] != completed || len != 8)
                        {
                            throw new AssertionError("used head=" + head + ", len=" + len + ", pending="
                                + pending[head] + ", seq=" + seqOfHead[head] + ", expected seq " + completed);
                        }
                        final long reply = f.ram0.get(SplitRingLayout.U64,
                            inBase + (completed & (SLOTS - 1)) * 8L - GPA0);
                        if (reply != completed * 3 + 1)
                        {
                            throw new AssertionError("driver saw reply " + reply + " for seq " + completed);
                        }
                        pending[head] = false;
                        completed++;
                        progress = true;
                    }
                    if (!progress)
                    {
                        Thread.onSpinWait();
                    }
                }
            }
            catch (final Throwable t)
            {
                fail(t);
            }
            device.join(TimeUnit.SECONDS.toMillis(60));

            if (null != failure.get())
            {
                throw new AssertionError(failure.get());
            }
            assertThat(device.isAlive()).isFalse();
            assertThat(completed).isEqualTo(N);
            assertThat(deviceSeen[0]).isEqualTo(N);
            assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
            assertThat(f.queue.nextAvail()).isEqualTo(N & 0xFFFF);
            assertThat(f.queue.nextUsed()).isEqualTo(N & 0xFFFF);
        }
    }
}
