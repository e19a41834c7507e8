package io.jvhost.virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Guest memory of three adjacent regions, a driver ring in region 0 and a bound device queue: the common setup of
 * the virtqueue tests.
 * <pre>
 *   GPA0                                 GPA1 = GPA0 + REGION_SIZE    GPA2 = GPA1 + REGION_SIZE    END
 *   | rings | data (bump allocated) ...  | region 1 ...               | region 2 ...               |
 * </pre>
 * Front-end virtual addresses are the guest-physical ones plus {@link #UADDR_BIAS}.
 */
final class Fixture implements AutoCloseable
{
    static final long GPA0 = 0x10_0000L;
    static final long REGION_SIZE = 1 << 20;
    static final long GPA1 = GPA0 + REGION_SIZE;
    static final long GPA2 = GPA1 + REGION_SIZE;
    static final long END = GPA2 + REGION_SIZE;
    static final long UADDR_BIAS = 0x7F00_0000_0000L;
    static final long ALL = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
        | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
        | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);

    final Arena arena = Arena.ofShared();
    final MemorySegment ram0 = arena.allocate(REGION_SIZE, 4096);
    final MemorySegment ram1 = arena.allocate(REGION_SIZE, 4096);
    final MemorySegment ram2 = arena.allocate(REGION_SIZE, 4096);
    final GuestMemory memory;
    final DriverQueue driver;
    final SplitQueue queue;
    final DescriptorChain chain;
    private long bump;

    Fixture(final int size, final long features)
    {
        this(size, features, 64);
    }

    Fixture(final int size, final long features, final int maxDescriptors)
    {
        try
        {
            memory = GuestMemory.of(List.of(
                MemoryRegion.ofSegment(GPA0, ram0, GPA0 + UADDR_BIAS),
                MemoryRegion.ofSegment(GPA1, ram1, GPA1 + UADDR_BIAS),
                MemoryRegion.ofSegment(GPA2, ram2, GPA2 + UADDR_BIAS)), 8);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
        driver = new DriverQueue(ram0, GPA0, size, GPA0);
        driver.setEventIdx(VirtioFeatures.has(features, VirtioFeatures.RING_EVENT_IDX));
        bump = GPA0 + ((DriverQueue.ringBytes(size) + 4095) & -4096L);
        queue = new SplitQueue(SplitQueue.MAX_SIZE);
        queue.setSize(size);
        queue.setFeatures(features);
        queue.setAddresses(driver.descGpa() + UADDR_BIAS, driver.availGpa() + UADDR_BIAS,
            driver.usedGpa() + UADDR_BIAS);
        chain = new DescriptorChain(maxDescriptors);
        bind();
    }

    void bind()
    {
        try
        {
            queue.bind(memory);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
    }

    /**
     * @return a fresh 16-aligned buffer in region 0.
     */
    long alloc(final long bytes)
    {
        final long gpa = bump;
        bump = (bump + bytes + 15) & -16L;
        assertThat(bump).isLessThanOrEqualTo(GPA1);
        return gpa;
    }

    void write(final long gpa, final byte[] bytes)
    {
        try
        {
            memory.write(gpa, MemorySegment.ofArray(bytes), 0, bytes.length);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
    }

    byte[] read(final long gpa, final int length)
    {
        final byte[] bytes = new byte[length];
        try
        {
            memory.read(gpa, MemorySegment.ofArray(bytes), 0, length);
        }
        catch (final GuestMemoryException e)
        {
            throw new AssertionError(e);
        }
        return bytes;
    }

    int add(final long[] gpas, final int[] lengths, final int out, final int in)
    {
        final int head = driver.add(gpas, lengths, out, in);
        assertThat(head).isNotNegative();
        driver.publish();
        return head;
    }

    boolean pop()
    {
        try
        {
            return queue.pop(chain);
        }
        catch (final InvalidChainException | QueueBrokenException e)
        {
            throw new AssertionError(e);
        }
    }

    InvalidChainException popInvalid()
    {
        try
        {
            queue.pop(chain);
        }
        catch (final InvalidChainException e)
        {
            return e;
        }
        catch (final QueueBrokenException e)
        {
            throw new AssertionError("expected an invalid chain, the queue broke", e);
        }
        return fail("expected InvalidChainException, popped " + chain);
    }

    QueueBrokenException popBroken()
    {
        try
        {
            queue.pop(chain);
        }
        catch (final QueueBrokenException e)
        {
            return e;
        }
        catch (final InvalidChainException e)
        {
            throw new AssertionError("expected a broken queue, got an invalid chain", e);
        }
        return fail("expected QueueBrokenException, popped " + chain);
    }

    static byte[] pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed + i * 7);
        }
        return bytes;
    }

    static String hex(final long value)
    {
        return "0x" + Long.toHexString(value);
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
