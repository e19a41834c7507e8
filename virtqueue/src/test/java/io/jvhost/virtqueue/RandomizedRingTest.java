package io.jvhost.virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.jvhost.virtqueue.Fixture.ALL;
import static io.jvhost.virtqueue.Fixture.END;
import static io.jvhost.virtqueue.Fixture.GPA0;
import static io.jvhost.virtqueue.Fixture.GPA1;
import static io.jvhost.virtqueue.Fixture.GPA2;
import static io.jvhost.virtqueue.SplitRingLayout.DESC_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * A hostile guest writes random descriptors, indirect tables and avail entries: pop must only ever return a valid
 * chain, throw InvalidChainException or QueueBrokenException, and always terminate. Valid chains are read and written
 * in full through the cursors.
 */
class RandomizedRingTest
{
    private static final int SIZE = 16;
    private static final int ROUNDS = 20_000;
    private static final int TABLES = 4;
    private static final int TABLE_ENTRIES = 8;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 0x5EED, 0xC0FFEE})
    void randomRingsOnlyYieldValidChainsOrTheDocumentedExceptions(final long seed)
    {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> run(seed));
    }

    private static void run(final long seed) throws Exception
    {
        final Random random = new Random(seed);
        try (Fixture f = new Fixture(SIZE, ALL, 1 + random.nextInt(24));
            Arena arena = Arena.ofConfined())
        {
            final long tables = f.alloc((long)TABLES * TABLE_ENTRIES * DESC_SIZE);
            final MemorySegment scratch = arena.allocate(1 << 20);
            int valid = 0;
            int invalid = 0;
            int broken = 0;
            for (int round = 0; round < ROUNDS; round++)
            {
                mutate(random, f, tables);
                for (int pops = 0; pops <= SIZE + 1; pops++)
                {
                    try
                    {
                        if (!f.queue.pop(f.chain))
                        {
                            break;
                        }
                        valid++;
                        checkAndUse(f, scratch);
                    }
                    catch (final InvalidChainException e)
                    {
                        invalid++;
                        assertThat(e.head()).isBetween(-1, SIZE - 1);
                        assertThat(e.getMessage()).contains("head=");
                        if (e.head() >= 0)
                        {
                            f.queue.pushUsed(e.head(), 0);
                        }
                    }
                    catch (final QueueBrokenException e)
                    {
                        broken++;
                        assertThat(f.queue.isBroken()).isTrue();
                        f.queue.unbind();
                        f.queue.setNextAvail(f.driver.availIdx());
                        f.bind();
                        break;
                    }
                }
            }
            assertThat(valid).as("valid chains").isPositive();
            assertThat(invalid).as("invalid chains").isPositive();
            assertThat(broken).as("broken rings").isPositive();
        }
    }

    private static void checkAndUse(final Fixture f, final MemorySegment scratch) throws Exception
    {
        final DescriptorChain chain = f.chain;
        assertThat(chain.head()).isBetween(0, SIZE - 1);
        assertThat(chain.count()).isBetween(1, chain.maxDescriptors());
        long total = 0;
        for (int i = 0; i < chain.count(); i++)
        {
            final long len = chain.length(i) & 0xFFFF_FFFFL;
            assertThat(f.memory.isValidRange(chain.address(i), len)).isTrue();
            assertThat(chain.isWritable(i)).isEqualTo(i >= chain.readableCount());
            total += len;
        }
        assertThat(total).isEqualTo(chain.readableBytes() + chain.writableBytes()).isLessThanOrEqualTo(1L << 32);

        final ChainReader reader = chain.reader();
        final long readable = Math.min(reader.remaining(), scratch.byteSize());
        reader.read(scratch, 0, readable);
        reader.skip(reader.remaining());
        final ChainWriter writer = chain.writer();
        // Never write into the rings themselves: that would only test how the driver copes with a hostile device.
        if (!overlapsRings(f, chain))
        {
            final long writable = Math.min(writer.remaining(), scratch.byteSize());
            writer.write(scratch, 0, writable);
        }
        f.queue.pushUsed(chain.head(), (int)writer.written());
        f.queue.needsNotification();
    }

    private static boolean overlapsRings(final Fixture f, final DescriptorChain chain)
    {
        final long ringsEnd = f.driver.descGpa() + DriverQueue.ringBytes(SIZE);
        for (int i = chain.readableCount(); i < chain.count(); i++)
        {
            final long start = chain.address(i);
            if (start < ringsEnd && f.driver.descGpa() < start + (chain.length(i) & 0xFFFF_FFFFL))
            {
                return true;
            }
        }
        return false;
    }

    private static void mutate(final Random random, final Fixture f, final long tables)
    {
        final int descriptors = random.nextInt(6);
        for (int i = 0; i < descriptors; i++)
        {
            f.driver.writeDescriptor(random.nextInt(SIZE), address(random, tables), length(random), flags(random),
                next(random, SIZE));
        }
        final int entries = random.nextInt(6);
        for (int i = 0; i < entries; i++)
        {
            final long table = tables + (long)random.nextInt(TABLES) * TABLE_ENTRIES * DESC_SIZE;
            f.driver.writeTableEntry(table, random.nextInt(TABLE_ENTRIES), address(random, tables), length(random),
                flags(random), next(random, TABLE_ENTRIES));
        }
        final int heads = random.nextInt(4);
        for (int i = 0; i < heads; i++)
        {
            f.driver.pushAvailRaw(random.nextInt(20) == 0 ? random.nextInt(0x10000) : random.nextInt(SIZE));
        }
        if (random.nextInt(200) == 0)
        {
            f.driver.setAvailIdx(random.nextInt(0x10000));
        }
    }

    private static long address(final Random random, final long tables)
    {
        return switch (random.nextInt(10))
        {
            case 0 -> random.nextLong();
            case 1 -> END - random.nextInt(64);
            case 2 -> GPA1 - random.nextInt(64);
            case 3 -> GPA2 - random.nextInt(64);
            case 4 -> tables + (long)random.nextInt(TABLES) * TABLE_ENTRIES * DESC_SIZE;
            case 5 -> -random.nextInt(4096) - 1L;
            default -> GPA0 + 0x10000 + random.nextInt(0x1000);
        };
    }

    private static int length(final Random random)
    {
        return switch (random.nextInt(8))
        {
            case 0 -> random.nextInt();
            case 1 -> 0;
            case 2 -> DESC_SIZE * (1 + random.nextInt(TABLE_ENTRIES));
            case 3 -> random.nextInt(1 << 20);
            default -> random.nextInt(256);
        };
    }

    private static int flags(final Random random)
    {
        return random.nextInt(16) == 0 ? random.nextInt(0x10000) : random.nextInt(8);
    }

    private static int next(final Random random, final int size)
    {
        return random.nextInt(16) == 0 ? random.nextInt(0x10000) : random.nextInt(size + 1);
    }
}
