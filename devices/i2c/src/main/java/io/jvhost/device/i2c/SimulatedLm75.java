package io.jvhost.device.i2c;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An LM75-style temperature sensor. A write's first byte selects the register (0 temperature, read-only; 1
 * configuration, one byte; 2 T_HYST and 3 T_OS, two bytes); further bytes are written into it (most significant
 * first). A read returns the selected register's bytes, repeated. Temperatures are 9-bit two's complement in half
 * degrees, left-aligned in 16 bits, as Linux's lm75 driver reads them: 25.0 °C is 0x1900, so
 * {@code i2cget -y 0 0x48 0x00 w} prints the bytes swapped, 0x0019.
 */
public final class SimulatedLm75 implements SimulatedClient
{
    public static final int REG_TEMP = 0;
    public static final int REG_CONF = 1;
    public static final int REG_THYST = 2;
    public static final int REG_TOS = 3;

    private final int[] registers = new int[4];
    private int pointer;

    /**
     * @param celsius the temperature it reports, -55..125 (rounded to half degrees).
     */
    public SimulatedLm75(final double celsius)
    {
        if (!(celsius >= -55 && celsius <= 125))
        {
            throw new IllegalArgumentException("an LM75 reports -55..125 °C, got " + celsius);
        }
        registers[REG_TEMP] = encode(celsius);
        registers[REG_THYST] = encode(75);
        registers[REG_TOS] = encode(80);
    }

    static int encode(final double celsius)
    {
        return ((int)Math.round(celsius * 2) << 7) & 0xFF80;
    }

    public synchronized void setTemperature(final double celsius)
    {
        registers[REG_TEMP] = encode(celsius);
    }

    /**
     * @return register {@code r} (16 bits; the configuration in the low byte).
     */
    public synchronized int register(final int r)
    {
        return registers[r];
    }

    @Override
    public synchronized boolean write(final MemorySegment data, final long offset, final int n)
    {
        if (n == 0)
        {
            return true;
        }
        final int reg = data.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
        if (reg > REG_TOS)
        {
            return false;
        }
        pointer = reg;
        if (n == 2 && reg == REG_CONF)
        {
            registers[REG_CONF] = data.get(ValueLayout.JAVA_BYTE, offset + 1) & 0xFF;
        }
        else if (n == 3 && (reg == REG_THYST || reg == REG_TOS))
        {
            registers[reg] = ((data.get(ValueLayout.JAVA_BYTE, offset + 1) & 0xFF) << 8
                | data.get(ValueLayout.JAVA_BYTE, offset + 2) & 0xFF)
                & 0xFF80;
        }
        return true;
    }

    @Override
    public synchronized boolean read(final MemorySegment into, final long offset, final int length)
    {
        final int value = registers[pointer];
        final boolean oneByte = pointer == REG_CONF;
        for (int i = 0; i < length; i++)
        {
            final int b = oneByte ? value : (i % 2 == 0 ? value >> 8 : value);
            into.set(ValueLayout.JAVA_BYTE, offset + i, (byte)b);
        }
        return true;
    }

    @Override
    public String kind()
    {
        return "lm75";
    }
}
