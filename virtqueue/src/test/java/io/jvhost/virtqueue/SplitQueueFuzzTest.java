package io.jvhost.virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the split virtqueue: the input becomes a descriptor table, indirect tables and avail entries in guest memory
 * of two separate regions, each fenced by canary pages in the same host allocation. Every chain popped must be valid
 * (inside declared memory, readable before writable, within the chain limit) and readable/writable in full through
 * ChainReader/ChainWriter, exactly as declared; otherwise pop must refuse it with InvalidChainException or
 * QueueBrokenException. Writing a chain may change only the bytes its writable descriptors name; the canaries never
 * change. Replayed from {@code SplitQueueFuzzTestInputs} by the unit tests; {@code ./jvhost fuzz} explores.
 */
class SplitQueueFuzzTest
{
    private static final long PAGE = 4096;
    private static final long GPA_A = 0x1000;
    private static final long SIZE_A = 4 * PAGE;
    private static final long GPA_B = 0x40_0000;
    private static final long SIZE_B = 2 * PAGE;
    private static final long UADDR_BIAS = 0x7F00_0000_0000L;
    private static final long TABLES = GPA_A + 2 * PAGE;
    private static final byte CANARY = (byte)0xA5;
    private static final int MAX_CHAIN = 64;

    private static final Arena ARENA = Arena.ofShared();
    private static final MemorySegment HOST_A = ARENA.allocate(SIZE_A + 2 * PAGE, PAGE);
    private static final MemorySegment HOST_B = ARENA.allocate(SIZE_B + 2 * PAGE, PAGE);
    private static final MemorySegment RAM_A = HOST_A.asSlice(PAGE, SIZE_A);
    private static final MemorySegment RAM_B = HOST_B.asSlice(PAGE, SIZE_B);
    private static final MemorySegment SCRATCH = ARENA.allocate(MAX_CHAIN * SIZE_A);
    private static final MemorySegment SHADOW_A = ARENA.allocate(SIZE_A);
    private static final MemorySegment SHADOW_B = ARENA.allocate(SIZE_B);
    private static final MemorySegment CANARIES = ARENA.allocate(PAGE).fill(CANARY);
    private static final GuestMemory MEMORY = memory();

    @FuzzTest(maxDuration = "30s")
    void everyChainIsValidAndConfinedOrRefused(final FuzzedDataProvider data) throws Exception
    {
        HOST_A.fill(CANARY);
        HOST_B.fill(CANARY);
        RAM_A.fill((byte)0);
        RAM_B.fill((byte)0);
        final int size = 1 << data.consumeInt(0, 5);
        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | (data.consumeBoolean() ? VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) : 0)
            | (data.consumeBoolean() ? VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) : 0);
        final DriverQueue driver = new DriverQueue(RAM_A, GPA_A, size, GPA_A);
        final SplitQueue queue = new SplitQueue(SplitQueue.MAX_SIZE);
        queue.setSize(size);
        queue.setFeatures(features);
        queue.setAddresses(driver.descGpa() + UADDR_BIAS, driver.availGpa() + UADDR_BIAS,
            driver.usedGpa() + UADDR_BIAS);
        queue.setNextAvail(data.consumeBoolean() ? 0 : data.consumeInt(0, 0xFFFF));
        queue.bind(MEMORY);
        final DescriptorChain chain = new DescriptorChain(data.consumeInt(1, MAX_CHAIN));
        final long ringsEnd = GPA_A + DriverQueue.ringBytes(size);

        while (data.remainingBytes() > 0)
        {
            switch (data.consumeInt(0, 4))
            {
                case 0 -> driver.writeDescriptor(data.consumeInt(0, size - 1), address(data), length(data),
                    flags(data), data.consumeInt(0, size + 1));
                case 1 -> driver.writeTableEntry(TABLES + data.consumeInt(0, 63) * 16L, 0, address(data), length(data),
                    flags(data), data.consumeInt(0, 9));
                case 2 -> driver.pushAvailRaw(data.consumeBoolean() ? data.consumeInt(0, size - 1)
                    : data.consumeInt(0, 0xFFFF));
                case 3 -> driver.setAvailIdx(data.consumeInt(0, 0xFFFF));
                default ->
                {
                    if (!popAndUse(queue, chain, size, ringsEnd))
                    {
                        queue.unbind();
                        queue.setNextAvail(driver.availIdx());
                        queue.bind(MEMORY);
                    }
                }
            }
        }
        for (int i = 0; i <= size && popAndUse(queue, chain, size, ringsEnd); i++)
        {
            // Drain what is left: pop must terminate within size + 1 calls or report the queue broken.
        }
        assertCanaries(HOST_A, SIZE_A);
        assertCanaries(HOST_B, SIZE_B);
    }

    /**
     * @return false once the queue reports itself broken (or is empty).
     */
    private static boolean popAndUse(final SplitQueue queue, final DescriptorChain chain, final int size,
        final long ringsEnd) throws Exception
    {
        try
        {
            if (!queue.pop(chain))
            {
                return false;
            }
        }
        catch (final InvalidChainException e)
        {
            assertThat(e.head()).isBetween(-1, size - 1);
            assertThat(e.getMessage()).contains("head=");
            if (e.head() >= 0)
            {
                queue.pushUsed(e.head(), 0);
            }
            return true;
        }
        catch (final QueueBrokenException e)
        {
            assertThat(queue.isBroken()).isTrue();
            return false;
        }
        checkChain(chain, size);
        readAll(chain);
        if (!writesRings(chain, ringsEnd))
        {
            writeAllConfined(chain);
        }
        queue.pushUsed(chain.head(), (int)chain.writer().written());
        queue.needsNotification();
        return true;
    }

    private static void checkChain(final DescriptorChain chain, final int size)
    {
        assertThat(chain.head()).isBetween(0, size - 1);
        assertThat(chain.count()).isBetween(1, chain.maxDescriptors());
        long readable = 0;
        long writable = 0;
        for (int i = 0; i < chain.count(); i++)
        {
            final long len = chain.length(i) & 0xFFFF_FFFFL;
            assertThat(MEMORY.isValidRange(chain.address(i), len)).as("descriptor %d of %s", i, chain).isTrue();
            assertThat(chain.isWritable(i)).isEqualTo(i >= chain.readableCount());
            if (chain.isWritable(i))
            {
                writable += len;
            }
            else
            {
                readable += len;
            }
        }
        assertThat(chain.readableBytes()).isEqualTo(readable);
        assertThat(chain.writableBytes()).isEqualTo(writable);
    }

    /** The reader yields exactly the bytes the readable descriptors name, in order, and then refuses more. */
    private static void readAll(final DescriptorChain chain) throws Exception
    {
        final ChainReader reader = chain.reader();
        reader.rewind();
        assertThat(reader.remaining()).isEqualTo(chain.readableBytes());
        long at = 0;
        for (int i = 0; i < chain.readableCount(); i++)
        {
            final long len = chain.length(i) & 0xFFFF_FFFFL;
            final MemorySegment expected = MEMORY.slice(chain.address(i), len);
            final MemorySegment got = SCRATCH.asSlice(0, len);
            reader.read(got, 0, len);
            assertThat(got.mismatch(expected)).as("bytes of readable descriptor %d", i).isEqualTo(-1);
            at += len;
        }
        assertThat(reader.position()).isEqualTo(at);
        assertThat(reader.remaining()).isZero();
        try
        {
            reader.readByte();
            throw new AssertionError("read past the readable part of " + chain);
        }
        catch (final ChainAccessException expected)
        {
            // The reader refuses: the request is too short.
        }
    }

    /** The writer fills exactly the writable bytes, changes nothing else, and then refuses more. */
    private static void writeAllConfined(final DescriptorChain chain) throws Exception
    {
        SHADOW_A.copyFrom(RAM_A);
        SHADOW_B.copyFrom(RAM_B);
        final ChainWriter writer = chain.writer();
        writer.rewind();
        final long total = chain.writableBytes();
        assertThat(writer.remaining()).isEqualTo(total);
        SCRATCH.asSlice(0, total).fill((byte)0x5A);
        writer.write(SCRATCH, 0, total);
        assertThat(writer.written()).isEqualTo(total);
        try
        {
            writer.writeByte((byte)0);
            throw new AssertionError("wrote past the writable part of " + chain);
        }
        catch (final ChainAccessException expected)
        {
            // The writer refuses: the buffer is too short.
        }
        assertOnlyWritableChanged(chain, RAM_A, SHADOW_A, GPA_A);
        assertOnlyWritableChanged(chain, RAM_B, SHADOW_B, GPA_B);
    }

    private static void assertOnlyWritableChanged(final DescriptorChain chain, final MemorySegment ram,
        final MemorySegment shadow, final long gpa)
    {
        long from = 0;
        while (from < ram.byteSize())
        {
            final long off = ram.asSlice(from).mismatch(shadow.asSlice(from));
            if (off < 0)
            {
                return;
            }
            final long changed = gpa + from + off;
            assertThat(inWritable(chain, changed)).as("byte at GPA 0x%x changed outside %s", changed, chain).isTrue();
            from += off + 1;
        }
    }

    private static boolean inWritable(final DescriptorChain chain, final long gpa)
    {
        for (int i = chain.readableCount(); i < chain.count(); i++)
        {
            if (gpa >= chain.address(i) && gpa - chain.address(i) < (chain.length(i) & 0xFFFF_FFFFL))
            {
                return true;
            }
        }
        return false;
    }

    /** Writing into the rings would only test how the driver copes with a hostile device. */
    private static boolean writesRings(final DescriptorChain chain, final long ringsEnd)
    {
        for (int i = chain.readableCount(); i < chain.count(); i++)
        {
            if (chain.address(i) < ringsEnd && GPA_A < chain.address(i) + (chain.length(i) & 0xFFFF_FFFFL))
            {
                return true;
            }
        }
        return false;
    }

    private static void assertCanaries(final MemorySegment host, final long size)
    {
        final long before = host.asSlice(0, PAGE).mismatch(CANARIES);
        final long after = host.asSlice(PAGE + size, PAGE).mismatch(CANARIES);
        if (before >= 0 || after >= 0)
        {
            throw new AssertionError("canary changed: " + before + " bytes into the page before guest memory, "
                + after + " into the page after (-1: intact)");
        }
    }

    private static long address(final FuzzedDataProvider data)
    {
        return switch (data.consumeInt(0, 5))
        {
            case 0 -> GPA_A + data.consumeLong(0, SIZE_A + 16);
            case 1 -> GPA_B + data.consumeLong(-16, SIZE_B + 16);
            case 2 -> TABLES + data.consumeInt(0, 63) * 16L;
            case 3 -> GPA_A + SIZE_A - data.consumeInt(0, 64);
            case 4 -> GPA_B - data.consumeInt(0, 64);
            default -> data.consumeLong();
        };
    }

    private static int length(final FuzzedDataProvider data)
    {
        return data.consumeBoolean() ? data.consumeInt(0, 512) : data.consumeInt();
    }

    private static int flags(final FuzzedDataProvider data)
    {
        return data.consumeBoolean() ? data.consumeInt(0, 7) : data.consumeInt(0, 0xFFFF);
    }

    private static GuestMemory memory()
    {
        try
        {
            return GuestMemory.of(List.of(
                MemoryRegion.ofSegment(GPA_A, RAM_A, GPA_A + UADDR_BIAS),
                MemoryRegion.ofSegment(GPA_B, RAM_B, GPA_B + UADDR_BIAS)), 8);
        }
        catch (final Exception e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }
}
