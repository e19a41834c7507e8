package io.jvhost.display.rfb;

import java.util.Arrays;
import java.util.Objects;

import io.jvhost.device.MemoryBudget;

/**
 * A growable byte buffer that messages are built in before one write: big-endian fields as RFB wants them, pixels in
 * the client's byte order. Single-threaded; reused, so steady state allocates nothing. A viewer's sinks reserve their
 * capacity from the device's memory budget.
 */
public final class ByteSink
{
    private final MemoryBudget budget;
    private byte[] buffer;
    private int length;

    /**
     * Unaccounted: for small, bounded messages.
     *
     * @param capacity the initial capacity in bytes.
     */
    public ByteSink(final int capacity)
    {
        this.budget = null;
        buffer = new byte[Math.max(16, capacity)];
    }

    /**
     * @param capacity the initial capacity in bytes, reserved from {@code budget} like any growth.
     * @throws MemoryBudget.ExceededException when the budget cannot hold it.
     */
    public ByteSink(final int capacity, final MemoryBudget budget)
    {
        this.budget = Objects.requireNonNull(budget, "budget");
        final int bytes = Math.max(16, capacity);
        budget.reserve(bytes, "a viewer's message buffer of " + bytes + " bytes");
        buffer = new byte[bytes];
    }

    /**
     * Makes room for {@code bytes} more bytes.
     *
     * @throws MemoryBudget.ExceededException when the sink's budget cannot hold the growth (nothing changes then).
     */
    public void ensure(final int bytes)
    {
        final long needed = (long)length + bytes;
        if (needed > buffer.length)
        {
            grow(needed);
        }
    }

    private void grow(final long needed)
    {
        if (needed > Integer.MAX_VALUE - 16)
        {
            throw new IllegalStateException("message too large: " + needed + " bytes");
        }
        final int capacity = (int)Math.max(needed, Math.min(Integer.MAX_VALUE - 16, 2L * buffer.length));
        if (null != budget)
        {
            budget.reserve(capacity - buffer.length, "a viewer's message buffer of " + capacity + " bytes");
        }
        buffer = Arrays.copyOf(buffer, capacity);
    }

    /**
     * Gives the sink's reservation back; it must not be used afterwards.
     */
    public void release()
    {
        if (null != budget)
        {
            budget.release(buffer.length);
        }
        buffer = new byte[0];
        length = 0;
    }

    public void u8(final int value)
    {
        ensure(1);
        buffer[length++] = (byte)value;
    }

    public void u16(final int value)
    {
        ensure(2);
        buffer[length++] = (byte)(value >>> 8);
        buffer[length++] = (byte)value;
    }

    public void u32(final int value)
    {
        ensure(4);
        buffer[length++] = (byte)(value >>> 24);
        buffer[length++] = (byte)(value >>> 16);
        buffer[length++] = (byte)(value >>> 8);
        buffer[length++] = (byte)value;
    }

    /**
     * Writes {@code count} bytes of {@code value}, little-endian.
     */
    public void little(final int value, final int count)
    {
        ensure(count);
        for (int i = 0; i < count; i++)
        {
            buffer[length++] = (byte)(value >>> (8 * i));
        }
    }

    /**
     * Writes {@code count} bytes of {@code value}, big-endian (the low {@code count} bytes).
     */
    public void big(final int value, final int count)
    {
        ensure(count);
        for (int i = count - 1; i >= 0; i--)
        {
            buffer[length++] = (byte)(value >>> (8 * i));
        }
    }

    public void bytes(final byte[] src, final int offset, final int count)
    {
        ensure(count);
        System.arraycopy(src, offset, buffer, length, count);
        length += count;
    }

    public void bytes(final byte[] src)
    {
        bytes(src, 0, src.length);
    }

    /**
     * Overwrites a big-endian u32 at {@code position} (a length written after its data).
     */
    public void putU32(final int position, final int value)
    {
        buffer[position] = (byte)(value >>> 24);
        buffer[position + 1] = (byte)(value >>> 16);
        buffer[position + 2] = (byte)(value >>> 8);
        buffer[position + 3] = (byte)value;
    }

    /**
     * Advances the length after the caller wrote into {@link #array()} at {@link #length()} (after {@link #ensure}).
     */
    public void advance(final int bytes)
    {
        length += bytes;
    }

    public byte[] array()
    {
        return buffer;
    }

    public int length()
    {
        return length;
    }

    public void reset()
    {
        length = 0;
    }
}
