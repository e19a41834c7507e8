package io.jvhost.device.rng;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RngDeviceTest
{
    private static final int SIZE = 64;
    private static final long DATA = 0x10000;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private MemorySegment ram;
    private DriverQueue driver;
    private ActiveQueue queue;
    private byte[] sourceBytes;
    private EntropySource source;

    @BeforeEach
    void setUp() throws Exception
    {
        ram = arena.allocate(1 << 22, 4096);
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        driver = new DriverQueue(ram, 0, SIZE, 0x1000);
        final SplitQueue ring = new SplitQueue(RngDevice.QUEUE_SIZE);
        ring.setSize(SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.bind(memory);
        queue = new ActiveQueue(0, "rng q0", ring, SIZE);
        sourceBytes = new byte[1 << 20];
        new java.util.Random(42).nextBytes(sourceBytes);
        final Path file = dir.resolve("entropy");
        Files.write(file, sourceBytes);
        source = EntropySource.open(file.toString());
    }

    @AfterEach
    void tearDown()
    {
        source.close();
        arena.close();
    }

    private byte[] guestBytes(final long gpa, final int length)
    {
        return ram.asSlice(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static int usedLength(final long used)
    {
        return (int)(used & 0xFFFFFFFFL);
    }

    @Test
    void fillsEveryWritableBufferOfAChainInOrderFromTheSource()
    {
        driver.add(new long[] {DATA, DATA + 0x8000, DATA + 0x20000}, new int[] {100, 4000, 7}, 0, 3);
        driver.publish();
        final RngDevice rng = new RngDevice("rng", source, 1000, Long.MAX_VALUE);

        queue.serve(rng);

        assertThat(usedLength(driver.pollUsed())).isEqualTo(4107);
        assertThat(guestBytes(DATA, 100)).isEqualTo(java.util.Arrays.copyOfRange(sourceBytes, 0, 100));
        assertThat(guestBytes(DATA + 0x8000, 4000)).isEqualTo(java.util.Arrays.copyOfRange(sourceBytes, 100, 4100));
        assertThat(guestBytes(DATA + 0x20000, 7)).isEqualTo(java.util.Arrays.copyOfRange(sourceBytes, 4100, 4107));
        assertThat(rng.bytesServed()).isEqualTo(4107);
    }

    @Test
    void requestWithAReadableBufferGetsZeroBytesAndTheNextRequestIsServed()
    {
        driver.add(new long[] {DATA, DATA + 0x1000}, new int[] {16, 16}, 1, 1);
        driver.add(new long[] {DATA + 0x2000}, new int[] {32}, 0, 1);
        driver.publish();
        final RngDevice rng = new RngDevice("rng", source, 1000, Long.MAX_VALUE);

        queue.serve(rng);

        assertThat(usedLength(driver.pollUsed())).isZero();
        assertThat(guestBytes(DATA + 0x1000, 16)).containsOnly((byte)0);
        assertThat(usedLength(driver.pollUsed())).isEqualTo(32);
        assertThat(rng.rejectedRequests()).isEqualTo(1);
    }

    @Test
    void quotaLimitsBytesPerPeriodAndLeavesTheRestWaitingInTheRing()
    {
        for (int i = 0; i < 3; i++)
        {
            driver.add(new long[] {DATA + i * 0x1000L}, new int[] {80}, 0, 1);
        }
        driver.publish();
        final RngDevice rng = new RngDevice("rng", source, 60_000, 100);

        final long retry = queue.serve(rng);

        assertThat(usedLength(driver.pollUsed())).isEqualTo(80);
        assertThat(usedLength(driver.pollUsed())).as("the rest of the quota").isEqualTo(20);
        assertThat(driver.pollUsed()).as("third request waits for the next period").isEqualTo(-1L);
        assertThat(retry).as("asks to be called when the period ends").isPositive()
            .isLessThanOrEqualTo(60_000_000_000L);
    }

    @Test
    void quotaRefillsInTheNextPeriod() throws InterruptedException
    {
        for (int i = 0; i < 2; i++)
        {
            driver.add(new long[] {DATA + i * 0x1000L}, new int[] {64}, 0, 1);
        }
        driver.publish();
        final RngDevice rng = new RngDevice("rng", source, 1, 64);

        queue.serve(rng);
        assertThat(usedLength(driver.pollUsed())).isEqualTo(64);
        Thread.sleep(5);
        queue.serve(rng);
        assertThat(usedLength(driver.pollUsed())).isEqualTo(64);
    }

    @Test
    void anExhaustedSourceAnswersWithZeroBytes() throws Exception
    {
        final Path empty = dir.resolve("empty");
        Files.write(empty, new byte[0]);
        try (EntropySource drained = EntropySource.open(empty.toString()))
        {
            driver.add(new long[] {DATA}, new int[] {64}, 0, 1);
            driver.publish();
            queue.serve(new RngDevice("rng", drained, 1000, Long.MAX_VALUE));
            assertThat(usedLength(driver.pollUsed())).isZero();
        }
    }

    @Test
    void periodOutsideOneTo65536MillisecondsIsRefused()
    {
        assertThatThrownBy(() -> new RngDevice("rng", source, 0, 1)).hasMessageContaining("got 0");
        assertThatThrownBy(() -> new RngDevice("rng", source, 65537, 1)).hasMessageContaining("got 65537");
    }

    @Test
    void offersTheSameFeaturesAsVhostDeviceRng()
    {
        // VERSION_1 | NOTIFY_ON_EMPTY | INDIRECT_DESC | EVENT_IDX (PROTOCOL_FEATURES is added by the transport).
        assertThat(new RngDevice("rng", source, 1000, 1).features()).isEqualTo(0x1_3100_0000L);
    }
}
