package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A 24C02-style serial EEPROM: 256 bytes, erased to 0xFF, one word-address byte. A write sets the address pointer
 * from its first byte and stores the rest from there; a read returns bytes from the pointer; both advance it,
 * wrapping at the end of the memory (a real 24C02 wraps a write within its 8-byte page; this one does not, so a
 * guest's write of any length lands exactly where it was sent). So {@code i2cset -y 0 0x50 0x20 0x42} then
 * {@code i2cget -y 0 0x50 0x20} reads 0x42, and {@code i2ctransfer -y 0 w1@0x50 0x00 r16} the first 16 bytes.
 */
public final class SimulatedEeprom implements SimulatedClient
{
    public static final int SIZE = 256;

    private final byte[] memory = new byte[SIZE];
    private int pointer;

    public SimulatedEeprom()
    {
        java.util.Arrays.fill(memory, (byte)0xFF);
    }

    @Override
    public synchronized boolean write(final MemorySegment data, final long offset, final int length)
    {
        if (length == 0)
        {
            return true;
        }
        pointer = data.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
        for (int i = 1; i < length; i++)
        {
            memory[pointer] = data.get(ValueLayout.JAVA_BYTE, offset + i);
            pointer = (pointer + 1) % SIZE;
        }
        return true;
    }

    @Override
    public synchronized boolean read(final MemorySegment into, final long offset, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            into.set(ValueLayout.JAVA_BYTE, offset + i, memory[pointer]);
            pointer = (pointer + 1) % SIZE;
        }
        return true;
    }

    /**
     * @return a copy of the memory (tests, the control side).
     */
    public synchronized byte[] contents()
    {
        return memory.clone();
    }

    @Override
    public String kind()
    {
        return "eeprom";
    }
}
