package io.jvhost.vhostuser.frontend;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.ActiveQueue;
import io.jvhost.os.LogRecorder;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitRingLayout;
import io.jvhost.virtqueue.VirtioFeatures;

import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_INDIRECT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_NEXT;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Broken descriptor chains written straight into queue 0's ring, as a malicious guest would: the device never sees
 * them, each one whose head is in range comes back unused (length 0), and valid chains behind them are echoed.
 * Queue 0 is driven with raw writes only (and without EVENT_IDX, so every used buffer is signalled); queue 1 runs
 * normal traffic throughout.
 */
@Timeout(60)
class BadChainTest
{
    private static final int SIZE = 64;
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private EchoBackend backend;
    private GuestRam ram;
    private VhostUserFrontend fe;
    private VirtioSession session;
    private FrontendQueue q0;
    private DriverQueue d0;
    private EchoTraffic traffic1;
    private long out;
    private long in;
    private long table;
    private int usedSeen;
    private int validSent;
    private byte pattern = 1;

    @BeforeEach
    void start() throws Exception
    {
        backend = EchoBackend.start(dir);
        ram = GuestRam.create(8L << 20, 2);
        fe = backend.connect();
        session = VirtioSession.builder(fe, ram).queues(2, SIZE)
            .driverFeatures(VirtioSession.DEFAULT_DRIVER_FEATURES & ~VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX))
            .build();
        q0 = session.queue(0);
        d0 = q0.driver();
        traffic1 = new EchoTraffic(ram, List.of(session.queue(1)), 4, 5, true);
        out = ram.allocate(4096, 4096);
        in = ram.allocate(4096, 4096);
        table = ram.allocate(4096, 4096);
        session.start();
        assertThat(VirtioFeatures.has(session.features(), VirtioFeatures.RING_INDIRECT_DESC)).isTrue();
    }

    @AfterEach
    void stop() throws Exception
    {
        session.close();
        fe.close();
        ram.close();
        backend.close();
    }

    private int usedIdx()
    {
        return ram.segment().get(U16, ram.offsetOf(q0.usedGpa() + SplitRingLayout.USED_IDX_OFFSET)) & 0xFFFF;
    }

    /**
     * Waits until the used index reaches {@code target}; returns head → length of the new used elements.
     */
    private Map<Integer, Integer> awaitUsed(final int target) throws InterruptedException
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (((usedIdx() - target) & 0x8000) != 0 && System.nanoTime() - end < 0)
        {
            Thread.sleep(1);
        }
        final Map<Integer, Integer> used = new HashMap<>();
        final int now = usedIdx();
        for (; usedSeen != now; usedSeen = (usedSeen + 1) & 0xFFFF)
        {
            final long elem = q0.usedGpa() + SplitRingLayout.usedElemOffset(usedSeen % SIZE);
            used.put(ram.segment().get(U32, ram.offsetOf(elem)), ram.segment().get(U32, ram.offsetOf(elem + 4)));
        }
        return used;
    }

    /**
     * Writes a valid two-descriptor echo chain at {@code head} (and {@code head + 1}) and makes it available.
     */
    private int pushValid(final int head, final int length)
    {
        pattern++;
        ram.fill(out, length, pattern);
        ram.fill(in, 4096, (byte)0);
        d0.writeDescriptor(head, out, length, DESC_F_NEXT, head + 1);
        d0.writeDescriptor(head + 1, in, length, DESC_F_WRITE, 0);
        d0.pushAvailRaw(head);
        validSent++;
        return head;
    }

    /**
     * Makes {@code badHead} available, then a valid chain at descriptors 60/61, kicks, and checks the outcome.
     */
    private void assertRejected(final String what, final int... badHeads) throws Exception
    {
        final long chains = backend.device().chains();
        final int before = usedSeen;
        for (final int bad : badHeads)
        {
            d0.pushAvailRaw(bad);
        }
        final int valid = pushValid(60, 100);
        q0.kickFd().signal();

        int inRange = 0;
        for (final int bad : badHeads)
        {
            inRange += bad < SIZE ? 1 : 0;
        }
        final Map<Integer, Integer> used = awaitUsed((before + inRange + 1) & 0xFFFF);
        assertThat(used).as(what + ": the valid chain behind it was served").containsEntry(valid, 100);
        assertThat(ram.read(in, 100)).as(what + ": echoed bytes").containsOnly(pattern);
        for (final int bad : badHeads)
        {
            if (bad < SIZE)
            {
                assertThat(used).as(what + ": returned unused").containsEntry(bad, 0);
            }
            else if (used.containsKey(bad))
            {
                assertThat(used.get(bad)).as(what).isZero();
            }
        }
        assertThat(backend.device().chains() - chains).as(what + ": chains the device saw").isEqualTo(1);
    }

    @Test
    void invalidChainsNeverReachTheDeviceAndValidChainsBehindThemAreServed() throws Exception
    {
        final long ramEnd = ram.region(1).guestPhysEnd();

        pushValid(60, 10);
        q0.kickFd().signal();
        assertThat(awaitUsed(1)).containsEntry(60, 10);

        // A descriptor loop.
        d0.writeDescriptor(0, out, 16, DESC_F_NEXT, 1);
        d0.writeDescriptor(1, out, 16, DESC_F_NEXT, 0);
        assertRejected("descriptor loop", 0);

        // A self loop through the writable part.
        d0.writeDescriptor(2, out, 16, DESC_F_NEXT, 3);
        d0.writeDescriptor(3, in, 16, DESC_F_WRITE | DESC_F_NEXT, 3);
        assertRejected("self loop", 2);

        // Buffers outside guest memory.
        d0.writeDescriptor(4, ramEnd + (1 << 20), 64, DESC_F_NEXT, 5);
        d0.writeDescriptor(5, in, 64, DESC_F_WRITE, 0);
        d0.writeDescriptor(6, out, 64, DESC_F_NEXT, 7);
        d0.writeDescriptor(7, ramEnd - 32, 64, DESC_F_WRITE, 0);
        assertRejected("buffer outside memory", 4, 6);

        // Lengths that wrap the address space or run past the end of memory.
        d0.writeDescriptor(8, 0xFFFF_FFFF_FFFF_F000L, 0x2000, 0, 0);
        d0.writeDescriptor(9, out, 0xFFFF_FFFF, DESC_F_WRITE, 0);
        d0.writeDescriptor(10, out, 0x8000_0000, DESC_F_NEXT, 11);
        d0.writeDescriptor(11, out, 0x8000_0000, DESC_F_NEXT, 12);
        d0.writeDescriptor(12, out, 0x8000_0000, DESC_F_WRITE, 0);
        assertRejected("length that wraps", 8, 9, 10);

        // Next index out of range, readable after writable.
        d0.writeDescriptor(13, out, 16, DESC_F_NEXT, SIZE + 1);
        d0.writeDescriptor(14, in, 16, DESC_F_WRITE | DESC_F_NEXT, 15);
        d0.writeDescriptor(15, out, 16, 0, 0);
        assertRejected("bad next / order", 13, 14);

        // Indirect tables: outside memory, not a whole number of descriptors, nested, looping inside, INDIRECT|NEXT.
        d0.writeDescriptor(16, ramEnd + 4096, 32, DESC_F_INDIRECT, 0);
        d0.writeDescriptor(17, table, 24, DESC_F_INDIRECT, 0);
        writeTableEntry(0, table + 256, 32, DESC_F_INDIRECT, 0);
        d0.writeDescriptor(18, table, 16, DESC_F_INDIRECT, 0);
        writeTableEntry(4, out, 16, DESC_F_NEXT, 1);
        writeTableEntry(5, out, 16, DESC_F_NEXT, 0);
        d0.writeDescriptor(19, table + 64, 32, DESC_F_INDIRECT, 0);
        d0.writeDescriptor(20, table + 64, 32, DESC_F_INDIRECT | DESC_F_NEXT, 21);
        d0.writeDescriptor(21, in, 16, DESC_F_WRITE, 0);
        assertRejected("bad indirect table", 16, 17, 18, 19, 20);

        // Heads out of range.
        assertRejected("head out of range", SIZE, SIZE + 3, 0xFFFF);

        // Traffic on the other queue was never disturbed.
        traffic1.run(200, WAIT);
        assertThat(traffic1.completed(0)).isEqualTo(200);
    }

    private void writeTableEntry(final int i, final long addr, final int len, final int flags, final int next)
    {
        final long at = ram.offsetOf(table) + (long)i * SplitRingLayout.DESC_SIZE;
        ram.segment().set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at, addr);
        ram.segment().set(U32, at + 8, len);
        ram.segment().set(U16, at + 12, (short)flags);
        ram.segment().set(U16, at + 14, (short)next);
    }

    @Test
    void availIndexJumpStopsOnlyThatQueueUntilItIsRestarted() throws Exception
    {
        pushValid(60, 20);
        q0.kickFd().signal();
        assertThat(awaitUsed(1)).containsEntry(60, 20);
        final long chains = backend.device().chains();

        // More buffers "available" than the ring holds: the worker stops the queue and says so.
        try (LogRecorder log = LogRecorder.of(ActiveQueue.class))
        {
            pushValid(60, 30);
            d0.setAvailIdx((d0.availIdx() + SIZE + 1) & 0xFFFF);
            q0.kickFd().signal();
            final LogRecorder.Entry stopped = log.await(WAIT, Level.WARNING, "the driver broke the ring");
            assertThat(stopped.message()).contains("queue stopped");
            assertThat(stopped.level()).as("a driver's broken ring is no error of ours").isEqualTo(Level.WARNING);
        }
        assertThat(usedIdx()).as("nothing used after the jump").isEqualTo(1);
        assertThat(backend.device().chains()).isEqualTo(chains);

        // The other queue carries on.
        traffic1.run(100, WAIT);

        // A stop/reset/start of the device brings queue 0 back.
        final int[] bases = session.stop();
        assertThat(bases[0]).as("base of the broken queue").isEqualTo(1);
        session.resetQueues();
        usedSeen = 0;
        session.start();
        pushValid(60, 40);
        q0.kickFd().signal();
        assertThat(awaitUsed(1)).containsEntry(60, 40);
        assertThat(ram.read(in, 40)).containsOnly(pattern);
        traffic1.run(100, WAIT);
    }
}
