package io.jvhost.virtqueue;

import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.Test;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.GPA1;
import static io.jvhost.virtqueue.Fixture.GPA2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The data path (pop, cursors, push, notification decisions) and the driver side allocate nothing in steady state.
 */
class AllocationFreeTest
{
    private static final int ITERATIONS = 100_000;

    private static long cycle(final Fixture f, final long[] gpas, final int[] lengths, final long table)
        throws Exception
    {
        long sum = 0;
        for (int i = 0; i < ITERATIONS; i++)
        {
            final int head = 0 == (i & 1)
                ? f.driver.add(gpas, lengths, 2, 2)
                : f.driver.addIndirect(table, gpas, lengths, 2, 2);
            f.driver.publish();
            sum += f.driver.needsKick() ? 1 : 0;

            if (!f.queue.pop(f.chain))
            {
                throw new AssertionError("ring empty");
            }
            final ChainReader reader = f.chain.reader();
            sum += reader.readLong();
            sum += reader.readInt();
            reader.skip(2);
            sum += reader.readShort(); // straddles the region boundary
            final ChainWriter writer = f.chain.writer();
            writer.writeLong(i);
            writer.writeInt(i);
            writer.fill(4);
            f.queue.pushUsed(f.chain.head(), (int)writer.written());
            sum += f.queue.needsNotification() ? 1 : 0;
            sum += f.queue.enableNotification() ? 1 : 0;

            final long used = f.driver.pollUsed();
            if (used >>> 32 != head)
            {
                throw new AssertionError("used " + Long.toHexString(used) + ", head " + head);
            }
        }
        return sum;
    }

    @Test
    void popPushAndCursorsAllocateNothingInSteadyState() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);

        try (Fixture f = new Fixture(64, ALL, 8))
        {
            final long[] gpas = {f.alloc(16), GPA1 - 2, f.alloc(16), GPA2 - 8};
            final int[] lengths = {16, 4, 16, 16};
            final long table = f.alloc(64);

            long sink = cycle(f, gpas, lengths, table);
            sink += cycle(f, gpas, lengths, table);

            final long before = threads.getCurrentThreadAllocatedBytes();
            sink += cycle(f, gpas, lengths, table);
            final long allocated = threads.getCurrentThreadAllocatedBytes() - before;

            assertThat(sink).isNotZero();
            assertThat(allocated).as("bytes allocated by %d round trips", ITERATIONS).isLessThan(4096);
        }
    }
}
