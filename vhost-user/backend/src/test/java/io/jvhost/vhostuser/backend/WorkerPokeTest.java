package io.jvhost.vhostuser.backend;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemoryAtomic;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Worker#poke}: from another thread it wakes the worker through its eventfd; from the worker itself (a device
 * waking one queue while it serves another) it only flags the ring, which the worker still looks at before it waits
 * again.
 */
@Timeout(30)
class WorkerPokeTest
{
    private Worker worker;
    private Vring first;
    private Vring second;

    @BeforeEach
    void start() throws Exception
    {
        final VirtioDevice device = new VirtioDevice()
        {
            @Override
            public int deviceType()
            {
                return 1;
            }

            @Override
            public String name()
            {
                return "poke";
            }

            @Override
            public int queueCount()
            {
                return 2;
            }

            @Override
            public int maxQueueSize()
            {
                return 16;
            }

            @Override
            public long features()
            {
                return 0;
            }

            @Override
            public void processQueue(final DeviceQueue queue)
            {
            }
        };
        worker = new Worker("poke-worker", 0, device, new GuestMemoryAtomic(), (why, t) ->
        {
        });
        first = new Vring(0, "poke", 16);
        second = new Vring(1, "poke", 16);
        worker.addVring(first);
        worker.addVring(second);
        worker.start();
    }

    @AfterEach
    void stop()
    {
        worker.close();
    }

    private static void await(final BooleanSupplier condition, final String what)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean())
        {
            assertThat(System.nanoTime() - deadline).as("waited 10 s for: " + what).isNegative();
            LockSupport.parkNanos(100_000);
        }
    }

    @Test
    void aPokeFromTheWorkerItselfWritesNoEventfdAndTheRingIsStillLookedAtBeforeTheWorkerWaits()
    {
        assertThat(worker.runAndWait(() -> worker.poke(second), TimeUnit.SECONDS.toNanos(10))).isTrue();

        // The ring's flag is taken in the same round (the worker would otherwise wait for ever: nothing signals it).
        await(() -> !second.pending, "the worker to take the ring's flag");
        assertThat(worker.wakeSignals()).as("eventfd writes for a poke on the worker's own thread").isZero();
    }

    @Test
    void aPokeFromAnotherThreadWakesTheWorkerThroughItsEventfd()
    {
        worker.poke(first);

        await(() -> !first.pending, "the worker to take the ring's flag");
        assertThat(worker.wakeSignals()).isEqualTo(1);
    }
}
