package io.jvhost.display.rfb;

import java.util.Arrays;

/**
 * A growable byte buffer that messages are built in before one write: big-endian fields as RFB wants them, pixels in
 * the client's byte order. Single-threaded; reused, so steady state allocates nothing.
 */
public final class ByteSink
{
    private byte[] buffer;
    private int length;

    /**
     * @param capacity the initial capacity in bytes.
     */
    public ByteSink(final int capacity)
    {
        buffer = new byte[Math.max(16, capacity)];
    }

    /**
     * Makes room for {@code bytes} more bytes.
     */
    public void ensure(final int bytes)
    {
        final long needed = (long)length + bytes;
        if (needed > buffer.length)
        {
            if (needed > Integer.MAX_VALUE - 16)
            {
                throw new IllegalStateException("message too large: " + needed + " bytes");
            }
            buffer = Arrays.copyOf(buffer, (int)Math.max(needed, Math.min(Integer.MAX_VALUE - 16, 2L * buffer.length)));
        }
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
