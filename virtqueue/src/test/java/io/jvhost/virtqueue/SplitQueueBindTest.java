package io.jvhost.virtqueue;

import java.util.List;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.GPA0;
import static io.jvhost.virtqueue.Fixture.GPA1;
import static io.jvhost.virtqueue.Fixture.UADDR_BIAS;
import static io.jvhost.virtqueue.Fixture.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SplitQueueBindTest
{
    private static final int SIZE = 16;

    private final Fixture f = new Fixture(SIZE, ALL);

    @AfterEach
    void close()
    {
        f.close();
    }

    private void roundTrip()
    {
        final long a = f.alloc(8);
        final int head = f.add(new long[]{a}, new int[]{8}, 1, 0);
        assertThat(f.pop()).isTrue();
        assertThat(f.chain.head()).isEqualTo(head);
        f.queue.pushUsed(head, 0);
        assertThat(f.driver.pollUsed()).isEqualTo((long)head << 32);
    }

    @Test
    void bindTranslatesFrontEndVirtualAddresses()
    {
        assertThat(f.queue.memory()).isSameAs(f.memory);
        roundTrip();
    }

    @Test
    void bindTranslatesGuestPhysicalAddresses() throws Exception
    {
        f.queue.setGuestPhysAddresses(f.driver.descGpa(), f.driver.availGpa(), f.driver.usedGpa());
        assertThat(f.queue.memory()).isNull();
        f.queue.bind(f.memory);
        roundTrip();
    }

    @Test
    void bindRejectsMisalignedDescriptorTable()
    {
        final long desc = f.driver.descGpa() + 8 + UADDR_BIAS;
        f.queue.setAddresses(desc, f.driver.availGpa() + UADDR_BIAS, f.driver.usedGpa() + UADDR_BIAS);

        assertThatThrownBy(() -> f.queue.bind(f.memory)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("descriptor table misaligned").hasMessageContaining(hex(desc));
    }

    @Test
    void bindRejectsMisalignedAvailRing()
    {
        final long avail = f.driver.availGpa() + 1;
        f.queue.setGuestPhysAddresses(f.driver.descGpa(), avail, f.driver.usedGpa());

        assertThatThrownBy(() -> f.queue.bind(f.memory)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("avail ring misaligned").hasMessageContaining(hex(avail));
    }

    @Test
    void bindRejectsMisalignedUsedRing()
    {
        final long used = f.driver.usedGpa() + 2;
        f.queue.setGuestPhysAddresses(f.driver.descGpa(), f.driver.availGpa(), used);

        assertThatThrownBy(() -> f.queue.bind(f.memory)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("used ring misaligned").hasMessageContaining(hex(used));
    }

    @Test
    void bindRejectsRingPartSpanningTwoRegions()
    {
        // Contiguous in guest-physical space, but not in one mapping: ring parts must be in one region.
        final long used = GPA1 - 64;
        f.queue.setGuestPhysAddresses(f.driver.descGpa(), f.driver.availGpa(), used);

        assertThatThrownBy(() -> f.queue.bind(f.memory)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("used ring").hasMessageContaining("not inside one memory region")
            .hasMessageContaining(hex(used));
    }

    @Test
    void bindRejectsRingOutsideMemory()
    {
        f.queue.setAddresses(0x1000, f.driver.availGpa() + UADDR_BIAS, f.driver.usedGpa() + UADDR_BIAS);

        assertThatThrownBy(() -> f.queue.bind(f.memory)).isInstanceOf(GuestMemoryException.class)
            .hasMessageContaining("descriptor table").hasMessageContaining("0x1000");
    }

    @Test
    void bindRequiresAddresses()
    {
        final SplitQueue queue = new SplitQueue(8);

        assertThatThrownBy(() -> queue.bind(f.memory)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void firstBindReadsUsedIdxFromTheRing() throws Exception
    {
        f.driver.reset(1234);
        f.queue.unbind();
        f.queue.setNextAvail(1234);
        f.queue.bind(f.memory);

        assertThat(f.queue.nextAvail()).isEqualTo(1234);
        assertThat(f.queue.nextUsed()).isEqualTo(1234);
        roundTrip();
        assertThat(f.queue.nextUsed()).isEqualTo(1235);
    }

    @Test
    void bindAfterSetAddressesReadsUsedIdxAgain() throws Exception
    {
        f.driver.reset(77);
        f.queue.setNextAvail(77);
        f.queue.setAddresses(f.driver.descGpa() + UADDR_BIAS, f.driver.availGpa() + UADDR_BIAS,
            f.driver.usedGpa() + UADDR_BIAS);
        f.queue.bind(f.memory);

        assertThat(f.queue.nextUsed()).isEqualTo(77);
    }

    @Test
    void rebindToNewSnapshotKeepsIndices() throws Exception
    {
        roundTrip();
        roundTrip();
        final GuestMemory next = GuestMemory.of(List.of(
            MemoryRegion.ofSegment(GPA0, f.ram0, GPA0 + UADDR_BIAS),
            MemoryRegion.ofSegment(GPA1, f.ram1, GPA1 + UADDR_BIAS)), 8);

        f.queue.bind(next);

        assertThat(f.queue.memory()).isSameAs(next);
        assertThat(f.queue.nextAvail()).isEqualTo(2);
        assertThat(f.queue.nextUsed()).isEqualTo(2);
        roundTrip();
        assertThat(f.queue.nextUsed()).isEqualTo(3);
    }

    @Test
    void unbindKeepsIndicesAndBindDoesNotReloadThem() throws Exception
    {
        roundTrip();
        f.queue.unbind();
        f.queue.bind(f.memory);

        assertThat(f.queue.nextAvail()).isEqualTo(1);
        assertThat(f.queue.nextUsed()).isEqualTo(1);
    }

    @Test
    void setSizeRejectsSizesThatAreNotPowersOfTwoOrTooLarge()
    {
        final SplitQueue queue = new SplitQueue(256);

        assertThatThrownBy(() -> queue.setSize(0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("size=0");
        assertThatThrownBy(() -> queue.setSize(48)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("size=48");
        assertThatThrownBy(() -> queue.setSize(512)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("size=512");
        queue.setSize(1);
        assertThat(queue.size()).isEqualTo(1);
    }

    @Test
    void constructorRejectsBadMaximumSize()
    {
        assertThatThrownBy(() -> new SplitQueue(65536)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("maxSize=65536");
        assertThatThrownBy(() -> new SplitQueue(3)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("maxSize=3");
    }

    @Test
    void setSizeUnbindsTheQueue()
    {
        f.queue.setSize(SIZE);

        assertThat(f.queue.memory()).isNull();
        assertThatThrownBy(() -> f.queue.pushUsed(0, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void pushUsedRejectsHeadOutOfRange()
    {
        assertThatThrownBy(() -> f.queue.pushUsed(SIZE, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("head=" + SIZE);
        assertThatThrownBy(() -> f.queue.pushUsed(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void enablingEventIdxWhileBoundTranslatesTheLongerRingParts()
    {
        // Without EVENT_IDX the used ring may end flush with its region; with it, avail_event does not fit.
        final long usedLength = SplitRingLayout.usedRingBytes(SIZE, false);
        final long used = GPA1 - usedLength;
        f.queue.setFeatures(0);
        f.queue.setGuestPhysAddresses(f.driver.descGpa(), f.driver.availGpa(), used);
        f.bind();

        f.queue.setFeatures(ALL);

        assertThat(f.queue.isBroken()).isTrue();
    }
}
