package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A 25xx-style serial EEPROM (as a 25AA02/25LC02): 256 bytes, erased to 0xFF, one address byte, commands in the first
 * byte of a frame (each transfer is one frame):
 * <ul>
 *   <li>{@code 0x03 READ addr}: the bytes clocked after the address return the memory from {@code addr} on;</li>
 *   <li>{@code 0x02 WRITE addr data...}: stores the data from {@code addr} on;</li>
 *   <li>{@code 0x05 RDSR}: the next byte returns the status register, always 0x00 (never busy);</li>
 *   <li>{@code 0x06 WREN}, {@code 0x04 WRDI}: accepted and ignored: a write needs no enable first (unlike the real
 *   part, so a guest's plain spidev write of command, address and data lands);</li>
 *   <li>a frame that sends nothing (a half-duplex read) continues reading at the address pointer, where the last
 *   READ or WRITE stopped: so a READ command and address as one transfer followed by the data read as the next (as
 *   Linux's spi_write_then_read sends them) reads the memory from that address.</li>
 * </ul>
 * The address pointer wraps at the end of the memory (a real part wraps a write within its 16-byte page; this one does
 * not, so a write of any length lands where it was sent). Bytes the chip does not drive (the command and address
 * phases, unknown commands) read 0xFF.
 */
public final class SimulatedEeprom implements SimulatedChip
{
    public static final int SIZE = 256;
    public static final int WRSR = 0x01;
    public static final int WRITE = 0x02;
    public static final int READ = 0x03;
    public static final int WRDI = 0x04;
    public static final int RDSR = 0x05;
    public static final int WREN = 0x06;

    private final byte[] memory = new byte[SIZE];
    private int pointer;

    public SimulatedEeprom()
    {
        Arrays.fill(memory, (byte)0xFF);
    }

    @Override
    public synchronized void frame(final SpiTransfer t)
    {
        final MemorySegment tx = t.tx();
        final MemorySegment rx = t.rx();
        final int length = t.length();
        if (!t.hasTx())
        {
            for (int i = 0; i < length; i++)
            {
                rx.set(ValueLayout.JAVA_BYTE, i, memory[pointer]);
                pointer = pointer + 1 & SIZE - 1;
            }
            return;
        }
        SpiTransfer.fill(rx, length, (byte)0xFF);
        if (length == 0)
        {
            return;
        }
        final int command = tx.get(ValueLayout.JAVA_BYTE, 0) & 0xFF;
        switch (command)
        {
            case READ, WRITE ->
            {
                if (length < 2)
                {
                    return;
                }
                pointer = tx.get(ValueLayout.JAVA_BYTE, 1) & 0xFF;
                for (int i = 2; i < length; i++)
                {
                    if (command == READ)
                    {
                        rx.set(ValueLayout.JAVA_BYTE, i, memory[pointer]);
                    }
                    else
                    {
                        memory[pointer] = tx.get(ValueLayout.JAVA_BYTE, i);
                    }
                    pointer = pointer + 1 & SIZE - 1;
                }
            }
            case RDSR ->
            {
                for (int i = 1; i < length; i++)
                {
                    rx.set(ValueLayout.JAVA_BYTE, i, (byte)0);
                }
            }
            default ->
            {
                // WREN, WRDI, WRSR and anything unknown: nothing to do, nothing driven.
            }
        }
    }

    /**
     * @return a copy of the memory.
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
