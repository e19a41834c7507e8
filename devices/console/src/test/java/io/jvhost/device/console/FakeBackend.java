package io.jvhost.device.console;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A host side in memory: input from a byte array, output into a byte stream that takes at most {@link #room} bytes
 * until given more, to act a slow reader.
 */
final class FakeBackend implements ConsoleBackend
{
    /** All of this process's memory: copies from and to native addresses without a segment per call. */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    byte[] input = new byte[0];
    private MemorySegment inputBytes = MemorySegment.ofArray(input);
    int inputPos;
    private byte[] output = new byte[1 << 20];
    private MemorySegment outputBytes = MemorySegment.ofArray(output);
    int outputSize;
    long room = Long.MAX_VALUE;
    boolean connected = true;
    boolean wantInput;
    long reads;
    long discarded;

    void input(final byte[] bytes)
    {
        input = bytes;
        inputBytes = MemorySegment.ofArray(bytes);
        inputPos = 0;
    }

    byte[] output()
    {
        return Arrays.copyOf(output, outputSize);
    }

    @Override
    public String describe()
    {
        return "fake";
    }

    @Override
    public int pollFd()
    {
        return -1;
    }

    @Override
    public int poll()
    {
        return 0;
    }

    @Override
    public boolean connected()
    {
        return connected;
    }

    @Override
    public long readable()
    {
        return input.length - inputPos;
    }

    @Override
    public long read(final long address, final long length)
    {
        reads++;
        final int n = (int)Math.min(length, input.length - inputPos);
        MemorySegment.copy(inputBytes, inputPos, ALL, address, n);
        inputPos += n;
        return n;
    }

    @Override
    public long write(final long address, final long length)
    {
        if (!connected)
        {
            discarded += length;
            return length;
        }
        final int n = (int)Math.min(length, room);
        if (outputSize + n > output.length)
        {
            output = Arrays.copyOf(output, Math.max(2 * output.length, outputSize + n));
            outputBytes = MemorySegment.ofArray(output);
        }
        MemorySegment.copy(ALL, address, outputBytes, outputSize, n);
        outputSize += n;
        room -= n;
        return n;
    }

    @Override
    public void wantInput(final boolean on)
    {
        wantInput = on;
    }

    @Override
    public long discardedBytes()
    {
        return discarded;
    }

    @Override
    public void close()
    {
    }
}
