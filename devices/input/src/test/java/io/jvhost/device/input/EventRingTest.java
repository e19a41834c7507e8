package io.jvhost.device.input;

import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EventRingTest
{
    @Test
    void packsEventsAsVirtioInputEventReadLittleEndian()
    {
        final long e = EventRing.pack(0x03, 0x0001, -2);
        assertThat(e).isEqualTo(0xFFFF_FFFE_0001_0003L);
        assertThat(EventRing.type(e)).isEqualTo(3);
        assertThat(EventRing.code(e)).isEqualTo(1);
        assertThat(EventRing.value(e)).isEqualTo(-2);
        assertThat(EventRing.pack(0x1f, 0xFFFF, -1)).isNotEqualTo(EventRing.EMPTY);
    }

    @Test
    void capacityMustBeAPowerOfTwo()
    {
        assertThatThrownBy(() -> new EventRing(3)).hasMessageContaining("got 3");
        assertThatThrownBy(() -> new EventRing(1)).hasMessageContaining("got 1");
    }

    @Test
    void aFullRingDropsTheOldestReportWholeOrAtMostARunWithoutSyn()
    {
        final EventRing ring = new EventRing(4);
        final long syn = EventRing.pack(0, 0, 0);
        ring.offer(EventRing.pack(1, 1, 1));
        ring.offer(syn);
        ring.offer(EventRing.pack(1, 2, 1));
        ring.offer(syn);
        ring.offer(EventRing.pack(1, 3, 1));
        assertThat(ring.dropped()).as("the first report went").isEqualTo(2);
        assertThat(ring.poll()).isEqualTo(EventRing.pack(1, 2, 1));
        assertThat(ring.poll()).isEqualTo(syn);
        assertThat(ring.poll()).isEqualTo(EventRing.pack(1, 3, 1));
        assertThat(ring.poll()).isEqualTo(EventRing.EMPTY);

        // No SYN_REPORT at all: a drop stops when the ring is empty.
        for (int i = 0; i < 5; i++)
        {
            ring.offer(EventRing.pack(2, 0, i));
        }
        assertThat(ring.poll()).isEqualTo(EventRing.pack(2, 0, 4));
        assertThat(ring.clear()).isZero();
    }

    /**
     * Four producers against one consumer on a small ring: every event is either taken or counted as dropped, and
     * each producer's events come out in the order it sent them.
     */
    @Test
    @Timeout(60)
    void concurrentProducersLoseNothingUncountedAndKeepTheirOrder() throws Exception
    {
        final EventRing ring = new EventRing(64);
        final int producers = 4;
        final int perProducer = 50_000;
        final CountDownLatch start = new CountDownLatch(1);
        final Thread[] threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            final int id = p;
            threads[p] = Thread.ofPlatform().start(() ->
            {
                try
                {
                    start.await();
                }
                catch (final InterruptedException e)
                {
                    return;
                }
                for (int i = 0; i < perProducer; i++)
                {
                    ring.offer(EventRing.pack(1, id, i));
                    if ((i & 7) == 0)
                    {
                        ring.offer(EventRing.pack(0, 0, 0));
                    }
                }
            });
        }
        final int[] last = {-1, -1, -1, -1};
        long taken = 0;
        long syns = 0;
        start.countDown();
        boolean running = true;
        while (running)
        {
            running = false;
            for (final Thread t : threads)
            {
                running |= t.isAlive();
            }
            long e;
            while ((e = ring.poll()) != EventRing.EMPTY)
            {
                if (EventRing.type(e) == 0)
                {
                    syns++;
                    continue;
                }
                final int id = EventRing.code(e);
                assertThat(EventRing.value(e)).as("producer %d in order", id).isGreaterThan(last[id]);
                last[id] = EventRing.value(e);
                taken++;
            }
        }
        final long sent = (long)producers * perProducer + (long)producers * ((perProducer + 7) / 8);
        assertThat(taken + syns + ring.dropped()).isEqualTo(sent);
        assertThat(taken).isPositive();
    }
}
