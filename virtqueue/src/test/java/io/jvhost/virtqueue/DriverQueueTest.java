package io.jvhost.virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_INDIRECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DriverQueueTest
{
    private static final int SIZE = 4;

    private final Fixture f = new Fixture(SIZE, ALL);

    @AfterEach
    void close()
    {
        f.close();
    }

    @Test
    void ringBytesFollowTheSpecLayout()
    {
        // Q = 64: 1024 descriptor bytes, 134 avail bytes (ends at 1158, used aligned to 1160), 518 used bytes.
        assertThat(DriverQueue.ringBytes(64)).isEqualTo(1160 + 518);
        assertThat(DriverQueue.ringBytes(1)).isEqualTo(16 + 8 + 14);
        final DriverQueue q = new DriverQueue(f.ram0, Fixture.GPA0, 64, Fixture.GPA0);
        assertThat(q.availGpa() - q.descGpa()).isEqualTo(1024);
        assertThat(q.usedGpa() - q.descGpa()).isEqualTo(1160);
    }

    @Test
    void constructorRejectsMisalignedOrOutOfRangeRings()
    {
        assertThatThrownBy(() -> new DriverQueue(f.ram0, Fixture.GPA0, 8, Fixture.GPA0 + 8))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16-aligned");
        assertThatThrownBy(() -> new DriverQueue(f.ram0, Fixture.GPA0, 8, Fixture.GPA1 - 16))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the RAM");
        assertThatThrownBy(() -> new DriverQueue(f.ram0, Fixture.GPA0, 12, Fixture.GPA0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("size=12");
    }

    @Test
    void addHandsOutDescriptorsUntilNoneAreFree()
    {
        final long a = f.alloc(8);
        final long[] gpas = {a, a, a};
        final int[] lengths = {8, 8, 8};

        assertThat(f.driver.add(gpas, lengths, 1, 2)).isZero();
        assertThat(f.driver.freeDescriptors()).isEqualTo(1);
        assertThat(f.driver.add(gpas, lengths, 1, 1)).isEqualTo(-1);
        assertThat(f.driver.add(gpas, lengths, 1, 0)).isEqualTo(3);
        assertThat(f.driver.freeDescriptors()).isZero();
        assertThat(f.driver.availIdx()).isEqualTo(2);
        assertThat(f.driver.usedIdx()).isZero();
    }

    @Test
    void pollUsedFreesTheWholeChain()
    {
        final long a = f.alloc(8);
        final int head = f.add(new long[]{a, a, a}, new int[]{8, 8, 8}, 2, 1);
        assertThat(f.pop()).isTrue();
        f.queue.pushUsed(head, 8);

        assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32 | 8);
        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
        assertThat(f.driver.pollUsed()).isEqualTo(-1);
    }

    @Test
    void pollUsedWritesUsedEventWithEventIdx()
    {
        final long a = f.alloc(8);
        final int head = f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.pop()).isTrue();
        f.queue.pushUsed(head, 0);
        assertThat(f.queue.needsNotification()).isTrue();

        f.driver.pollUsed();
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.pop()).isTrue();
        f.queue.pushUsed(f.chain.head(), 0);

        assertThat(f.queue.needsNotification()).as("used_event 1 asked for this element").isTrue();
    }

    @Test
    void enableInterruptsReportsPendingUsedElements()
    {
        final long a = f.alloc(8);
        final int head = f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.driver.enableInterrupts()).isFalse();
        assertThat(f.pop()).isTrue();
        f.queue.pushUsed(head, 0);

        assertThat(f.driver.enableInterrupts()).isTrue();
    }

    @Test
    void addIndirectUsesOneDescriptor()
    {
        final long table = f.alloc(64);
        final long a = f.alloc(8);

        final int head = f.driver.addIndirect(table, new long[]{a, a, a, a}, new int[]{1, 2, 3, 4}, 2, 2);
        f.driver.publish();

        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE - 1);
        assertThat(f.pop()).isTrue();
        assertThat(f.chain.count()).isEqualTo(4);
        assertThat(f.chain.readableBytes()).isEqualTo(3);
        assertThat(f.chain.writableBytes()).isEqualTo(7);
        f.queue.pushUsed(head, 7);
        assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32 | 7);
        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
    }

    @Test
    void pollUsedRejectsAnIdThatIsNotPending()
    {
        f.queue.pushUsed(2, 0);

        assertThatThrownBy(f.driver::pollUsed).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("id=2");
    }

    @Test
    void rawWritersBypassBookkeeping()
    {
        final long a = f.alloc(8);
        f.driver.writeDescriptor(3, a, 8, 0, 0);
        f.driver.pushAvailRaw(3);

        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
        assertThat(f.pop()).isTrue();
        assertThat(f.chain.head()).isEqualTo(3);
        assertThatThrownBy(() -> f.driver.writeDescriptor(SIZE, a, 8, DESC_F_INDIRECT, 0))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void resetForgetsPendingChainsAndZeroesTheRing()
    {
        final long a = f.alloc(8);
        f.add(new long[]{a}, new int[]{8}, 1, 0);
        f.driver.setAvailFlags(1);

        f.driver.reset();

        assertThat(f.driver.freeDescriptors()).isEqualTo(SIZE);
        assertThat(f.driver.availIdx()).isZero();
        assertThat(f.driver.usedIdx()).isZero();
        assertThat(f.ram0.get(SplitRingLayout.U16, f.driver.availGpa() - Fixture.GPA0)).isZero();
    }

    @Test
    void driverWorksOverItsOwnArena()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment ram = arena.allocate(64 * 1024, 4096);
            final DriverQueue q = new DriverQueue(ram, 0x4000_0000L, 256, 0x4000_0000L + 4096);
            assertThat(q.size()).isEqualTo(256);
            assertThat(q.add(new long[]{0x4000_0000L}, new int[]{16}, 0, 1)).isZero();
        }
    }
}
