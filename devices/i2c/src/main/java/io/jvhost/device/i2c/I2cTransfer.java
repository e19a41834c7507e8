package io.jvhost.device.i2c;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One I2C transfer as an adapter executes it: up to {@link #MAX_MESSAGES} messages, each a 7-bit address, a
 * direction and a slice of one native staging buffer ({@link #MAX_BYTES} in all; written messages carry their data
 * there, read messages get theirs there). The device fills it from the guest's requests and copies read data back;
 * made once per device, reused for every transfer.
 */
public final class I2cTransfer
{
    /** Linux's I2C_RDWR_IOCTL_MAX_MSGS. */
    public static final int MAX_MESSAGES = 42;
    /** The most data bytes of one transfer. */
    public static final int MAX_BYTES = 64 * 1024;
    /** The largest message (struct i2c_msg's len is 16 bits). */
    public static final int MAX_MESSAGE = 0xFFFF;

    private final MemorySegment staging = Arena.ofAuto().allocate(MAX_BYTES, 16);
    private final int[] addresses = new int[MAX_MESSAGES];
    private final boolean[] reads = new boolean[MAX_MESSAGES];
    private final int[] offsets = new int[MAX_MESSAGES];
    private final int[] lengths = new int[MAX_MESSAGES];
    private int count;
    private int used;

    public void clear()
    {
        count = 0;
        used = 0;
    }

    /**
     * Adds a message whose data (for a write) the caller then puts into {@link #data(int)}.
     *
     * @return its index, or -1 when the transfer cannot take it (too many messages or bytes).
     */
    public int add(final int address, final boolean read, final int length)
    {
        if (count == MAX_MESSAGES || length < 0 || length > MAX_MESSAGE || length > MAX_BYTES - used)
        {
            return -1;
        }
        addresses[count] = address;
        reads[count] = read;
        offsets[count] = used;
        lengths[count] = length;
        used += length;
        return count++;
    }

    public int count()
    {
        return count;
    }

    public int address(final int i)
    {
        return addresses[i];
    }

    public boolean isRead(final int i)
    {
        return reads[i];
    }

    public int length(final int i)
    {
        return lengths[i];
    }

    /**
     * @return message {@code i}'s bytes in the native staging buffer.
     */
    public MemorySegment data(final int i)
    {
        return staging.asSlice(offsets[i], lengths[i]);
    }

    /**
     * @return the native address of message {@code i}'s bytes (for the kernel's struct i2c_msg).
     */
    long dataAddress(final int i)
    {
        return staging.address() + offsets[i];
    }

    MemorySegment staging()
    {
        return staging;
    }

    int offset(final int i)
    {
        return offsets[i];
    }
}
