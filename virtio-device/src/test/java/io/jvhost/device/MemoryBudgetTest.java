package io.jvhost.device;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MemoryBudgetTest
{
    @Test
    void reservesWhatFitsUpToTheLimitExactlyAndReleasesIt()
    {
        final MemoryBudget b = new MemoryBudget("gpu0", 1000);
        assertThat(b.tryReserve(600)).isTrue();
        assertThat(b.tryReserve(401)).isFalse();
        assertThat(b.used()).as("a refusal reserves nothing").isEqualTo(600);
        assertThat(b.tryReserve(400)).isTrue();
        assertThat(b.available()).isZero();
        assertThat(b.tryReserve(0)).as("nothing always fits").isTrue();
        b.release(1000);
        assertThat(b.used()).isZero();
        assertThat(b.available()).isEqualTo(1000);
    }

    @Test
    void aRefusalNamesThePurposeAndTheNumbers()
    {
        final MemoryBudget b = new MemoryBudget("gpu0", 1000);
        b.reserve(700, "resources");
        assertThatThrownBy(() -> b.reserve(301, "scanout 0's shadow (16384x16384)"))
            .isInstanceOf(MemoryBudget.ExceededException.class)
            .hasMessage("scanout 0's shadow (16384x16384) needs 301 bytes, but 700 of the 1000 bytes of gpu0's"
                + " memory budget are in use")
            .satisfies(e -> assertThat(((MemoryBudget.ExceededException)e).requested()).isEqualTo(301));
        assertThat(b.used()).isEqualTo(700);
    }

    @Test
    void neverGoesNegativeNorAcceptsNegativeAmounts()
    {
        final MemoryBudget b = new MemoryBudget("gpu0", 1000);
        b.reserve(10, "x");
        assertThatThrownBy(() -> b.release(11)).isInstanceOf(IllegalStateException.class)
            .hasMessage("releasing 11 bytes of gpu0 but only 10 are reserved");
        assertThat(b.used()).isEqualTo(10);
        assertThatThrownBy(() -> b.tryReserve(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.release(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MemoryBudget("gpu0", 0)).hasMessageContaining("got 0");
    }

    @Test
    void anUnlimitedBudgetRefusesNothingAndCannotOverflow()
    {
        final MemoryBudget b = MemoryBudget.unlimited("tool");
        assertThat(b.tryReserve(Long.MAX_VALUE - 1)).isTrue();
        assertThat(b.tryReserve(2)).isFalse();
        assertThat(b.toString()).contains("unlimited");
    }

    @Test
    void concurrentReservationsNeverExceedTheLimitAndAllComeBack() throws Exception
    {
        final MemoryBudget b = new MemoryBudget("gpu0", 1000);
        final CountDownLatch start = new CountDownLatch(1);
        final AtomicLong maxUsed = new AtomicLong();
        final AtomicLong granted = new AtomicLong();
        final List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 4; t++)
        {
            workers.add(Thread.ofPlatform().start(() ->
            {
                try
                {
                    start.await();
                }
                catch (final InterruptedException e)
                {
                    return;
                }
                for (int i = 0; i < 100_000; i++)
                {
                    if (b.tryReserve(300))
                    {
                        granted.incrementAndGet();
                        maxUsed.accumulateAndGet(b.used(), Math::max);
                        b.release(300);
                    }
                }
            }));
        }
        start.countDown();
        for (final Thread w : workers)
        {
            w.join();
        }
        assertThat(granted.get()).isPositive();
        assertThat(maxUsed.get()).as("at most three 300-byte reservations fit in 1000").isBetween(300L, 900L);
        assertThat(b.used()).isZero();
    }
}
