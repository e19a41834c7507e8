package io.jvhost.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ActiveQueueTest
{
    private static final int SIZE = 16;
    private static final long DATA = 0x10000;

    private final Arena arena = Arena.ofShared();
    private DriverQueue driver;
    private SplitQueue ring;
    private ActiveQueue queue;
    private GuestMemory memory;
    private final AtomicInteger interrupts = new AtomicInteger();

    @BeforeEach
    void setUp() throws Exception
    {
        final MemorySegment ram = arena.allocate(1 << 20, 4096);
        memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        driver = new DriverQueue(ram, 0, SIZE, 0x1000);
        ring = new SplitQueue(SIZE);
        ring.setSize(SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.bind(memory);
        queue = new ActiveQueue(0, "test q0", ring, SIZE);
        queue.setNotifier(interrupts::incrementAndGet);
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private int addWritable(final int index, final int length)
    {
        final int head = driver.add(new long[] {DATA + index * 0x1000L}, new int[] {length}, 0, 1);
        driver.publish();
        return head;
    }

    private static VirtioDevice device(final java.util.function.Consumer<DeviceQueue> body)
    {
        return new OneQueueDevice(SIZE, VirtioFeatures.bit(VirtioFeatures.VERSION_1), body);
    }

    @Test
    void everyAvailableChainReachesTheDeviceAndIsCompletedWithItsLength()
    {
        final List<Integer> seen = new ArrayList<>();
        addWritable(0, 100);
        addWritable(1, 200);
        final long again = queue.serve(device(q ->
        {
            DescriptorChain c;
            while (null != (c = q.next()))
            {
                seen.add((int)c.writableBytes());
                q.complete(c, c.writableBytes());
            }
        }));
        assertThat(again).isZero();
        assertThat(seen).containsExactly(100, 200);
        assertThat(driver.pollUsed() & 0xFFFFFFFFL).isEqualTo(100);
        assertThat(driver.pollUsed() & 0xFFFFFFFFL).isEqualTo(200);
        assertThat(interrupts.get()).as("one interrupt for the batch").isEqualTo(1);
    }

    @Test
    void stopLetsTheDeviceReturnWhatItHoldsTakesNothingNewAndNotifiesTheDriver()
    {
        final DescriptorChain held = new DescriptorChain(SIZE);
        final List<Integer> takenAtStop = new ArrayList<>();
        final VirtioDevice holding = new VirtioDevice()
        {
            private final VirtioDevice base = device(q ->
            {
                final DescriptorChain c = q.next();
                held.copyFrom(c);
            });

            @Override
            public int deviceType()
            {
                return 0;
            }

            @Override
            public String name()
            {
                return "holding";
            }

            @Override
            public int queueCount()
            {
                return 1;
            }

            @Override
            public int maxQueueSize()
            {
                return SIZE;
            }

            @Override
            public long features()
            {
                return base.features();
            }

            @Override
            public void processQueue(final DeviceQueue q)
            {
                base.processQueue(q);
            }

            @Override
            public void queueStopping(final DeviceQueue q)
            {
                final DescriptorChain c = q.next();
                takenAtStop.add(null == c ? -1 : c.head());
                q.complete(held, 7);
            }
        };
        final int first = addWritable(0, 100);
        queue.serve(holding);
        assertThat(driver.pollUsed()).as("held by the device").isEqualTo(-1);
        addWritable(1, 100);
        interrupts.set(0);
        queue.stop(holding);
        assertThat(takenAtStop).as("no new chain is taken from a stopping ring").containsExactly(-1);
        assertThat(driver.pollUsed()).as("the held chain is back").isEqualTo((long)first << 32 | 7);
        assertThat(ring.nextAvail()).as("the chain made available meanwhile stays in the ring").isEqualTo(1);
        assertThat(interrupts.get()).as("the driver is notified").isEqualTo(1);
    }

    @Test
    void invalidChainIsReturnedWithZeroBytesAndNeverReachesTheDevice()
    {
        // A descriptor whose buffer lies outside guest memory.
        final int bad = driver.add(new long[] {0x7fff_0000_0000L}, new int[] {64}, 0, 1);
        driver.publish();
        addWritable(1, 50);
        final List<Integer> seen = new ArrayList<>();
        queue.serve(device(q ->
        {
            DescriptorChain c;
            while (null != (c = q.next()))
            {
                seen.add(c.head());
                q.complete(c, 0);
            }
        }));
        assertThat(seen).hasSize(1).doesNotContain(bad);
        assertThat(queue.invalidChains()).isEqualTo(1);
        assertThat(driver.pollUsed()).as("the invalid chain came back first, with length 0").isEqualTo((long)bad << 32);
    }

    @Test
    void completionLengthIsCappedAtTheWritableSpace()
    {
        addWritable(0, 10);
        queue.serve(device(q -> q.complete(q.next(), 1_000_000)));
        assertThat(driver.pollUsed() & 0xFFFFFFFFL).isEqualTo(10);
    }

    @Test
    void retryAfterStopsTheBatchAndLeavesChainsInTheRing()
    {
        addWritable(0, 10);
        addWritable(1, 10);
        final long again = queue.serve(device(q ->
        {
            q.complete(q.next(), 0);
            q.retryAfter(5_000_000);
        }));
        assertThat(again).isEqualTo(5_000_000);
        assertThat(ring.hasAvailable()).isTrue();
        assertThat(driver.pollUsed()).isNotEqualTo(-1L);
        assertThat(driver.pollUsed()).isEqualTo(-1L);
    }

    @Test
    void aDeviceThatDrainsTheRingAndAsksForALaterCallIsCalledAgain()
    {
        addWritable(0, 8);
        // Takes everything (holding the chain, as a sound device holds a period until its time), then asks.
        final long again = queue.serve(device(q ->
        {
            while (null != q.next())
            {
                // held
            }
            q.retryAfter(7_000_000);
        }));
        assertThat(again).as("the retry survives the drained ring").isEqualTo(7_000_000);
        assertThat(queue.serve(device(q -> q.next()))).as("no retry asked: none").isZero();
    }

    @Test
    void aChainAddedAfterTheDeviceDrainedTheRingAndAskedForALaterCallIsTakenInTheSameServe()
    {
        addWritable(0, 8);
        final AtomicInteger taken = new AtomicInteger();
        final long again = queue.serve(device(q ->
        {
            while (null != q.next())
            {
                taken.incrementAndGet();
            }
            if (taken.get() == 1)
            {
                // Published while notifications were off: no kick comes for it.
                addWritable(1, 8);
            }
            q.retryAfter(7_000_000);
        }));
        assertThat(taken).as("the second chain is not left for the retry").hasValue(2);
        assertThat(again).isEqualTo(7_000_000);
    }

    @Test
    void pollAfterAsksTheDriverForNoKickUntilTheCallWithoutEventIdx()
    {
        kicksStayOffUntilTheCall();
    }

    @Test
    void pollAfterAsksTheDriverForNoKickUntilTheCallWithEventIdx() throws Exception
    {
        ring.unbind();
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX));
        ring.bind(memory);
        driver.setEventIdx(true);
        kicksStayOffUntilTheCall();
    }

    /**
     * A device holding its chains until a deadline (a sound stream's messages) asks for the call with pollAfter: the
     * chains the driver adds until then need no kick (the call takes them); once the device asks for none, kicks are
     * wanted again.
     */
    private void kicksStayOffUntilTheCall()
    {
        addWritable(0, 8);
        assertThat(driver.needsKick()).as("kick for the first chain").isTrue();
        final AtomicInteger taken = new AtomicInteger();
        assertThat(queue.serve(device(q ->
        {
            while (null != q.next())
            {
                taken.incrementAndGet();
            }
            q.pollAfter(5_000_000);
        }))).isEqualTo(5_000_000);
        addWritable(1, 8);
        assertThat(driver.needsKick()).as("kick for a chain added before the call").isFalse();
        addWritable(2, 8);
        assertThat(driver.needsKick()).as("kick for another one").isFalse();
        assertThat(queue.serve(device(q ->
        {
            while (null != q.next())
            {
                taken.incrementAndGet();
            }
            q.pollAfter(5_000_000);
        }))).isEqualTo(5_000_000);
        assertThat(taken).as("taken at the call").hasValue(3);
        addWritable(3, 8);
        assertThat(driver.needsKick()).as("kick after a second pollAfter").isFalse();
        assertThat(queue.serve(device(q ->
        {
            while (null != q.next())
            {
                taken.incrementAndGet();
            }
        }))).isZero();
        assertThat(taken).hasValue(4);
        addWritable(4, 8);
        assertThat(driver.needsKick()).as("kick once the device asks for no call").isTrue();
    }

    @Test
    void aDeviceThatThrowsDoesNotStopTheQueue()
    {
        addWritable(0, 10);
        queue.serve(device(q ->
        {
            q.next();
            throw new IllegalStateException("device bug");
        }));
        addWritable(1, 10);
        final AtomicInteger served = new AtomicInteger();
        queue.serve(device(q ->
        {
            DescriptorChain c;
            while (null != (c = q.next()))
            {
                served.incrementAndGet();
                q.complete(c, 0);
            }
        }));
        assertThat(served.get()).isEqualTo(1);
    }

    @Test
    void aBatchIsCappedSoOneQueueCannotStarveItsWorker()
    {
        // A device that never drains (keeps completing and the driver keeps refilling) gets -1: "call me again".
        for (int i = 0; i < SIZE; i++)
        {
            addWritable(i, 8);
        }
        final long again = queue.serve(device(q ->
        {
            DescriptorChain c;
            while (null != (c = q.next()))
            {
                q.complete(c, 0);
                driver.pollUsed();
                addWritable(0, 8);
            }
        }));
        assertThat(again).isEqualTo(-1);
    }
}
