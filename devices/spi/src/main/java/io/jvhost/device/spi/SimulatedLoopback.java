package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;

/**
 * A wire from MOSI to MISO: every byte received is the byte sent in the same clock (a half-duplex read, which sends
 * zeros, receives zeros).
 */
public final class SimulatedLoopback implements SimulatedChip
{
    @Override
    public void frame(final SpiTransfer transfer)
    {
        MemorySegment.copy(transfer.tx(), 0, transfer.rx(), 0, transfer.length());
    }

    @Override
    public String kind()
    {
        return "loopback";
    }
}
