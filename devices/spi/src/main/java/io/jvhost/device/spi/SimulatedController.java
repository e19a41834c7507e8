package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A simulated SPI controller: one {@link SimulatedChip} per chip select (cs 0 the first), for guests and tests without
 * SPI hardware. It offers what a flexible controller would: every CPHA/CPOL setting, CS_HIGH, LSB_FIRST and LOOP, 8-,
 * 16- and 32-bit words, up to {@link #MAX_FREQ_HZ}, single bus width only, and no delays (a head asking for any of
 * them is a parameter error). The modes change nothing in the simulation except LOOP: in loopback mode the controller
 * receives what it sends, whatever the chip answers (the chip is still selected and sees the bytes).
 * <p>
 * Every transfer is one chip-select frame: virtio-spi sends a message's transfers as separate requests and carries no
 * message boundary, so keeping a chip selected across requests (a transfer's cs_change 0) would also keep it selected
 * into the next message. jvhost's spidev controller does the same (each transfer its own SPI_IOC_MESSAGE).
 */
public final class SimulatedController implements SpiController
{
    public static final long MAX_FREQ_HZ = 50_000_000;
    /** The most chip selects a simulated controller has. */
    public static final int MAX_CHIPS = 16;
    static final int BITS_PER_WORD_MASK = 1 << 7 | 1 << 15 | 1 << 31;

    private final SimulatedChip[] chips;
    private final SpiConfig config;

    /**
     * @param chips the chip at each chip select, cs 0 first.
     * @throws IllegalArgumentException for no chips or more than {@link #MAX_CHIPS}.
     */
    public SimulatedController(final List<SimulatedChip> chips)
    {
        if (chips.isEmpty() || chips.size() > MAX_CHIPS)
        {
            throw new IllegalArgumentException("a simulated controller has 1.." + MAX_CHIPS + " chips, got "
                + chips.size());
        }
        this.chips = chips.toArray(new SimulatedChip[0]);
        this.config = new SpiConfig(chips.size(), true, 0, 0, BITS_PER_WORD_MASK, 0x7F, MAX_FREQ_HZ, 0, 0, 0, 0);
    }

    /**
     * @return the chip at chip select {@code cs}.
     */
    public SimulatedChip chip(final int cs)
    {
        return chips[cs];
    }

    @Override
    public SpiConfig config()
    {
        return config;
    }

    @Override
    public boolean transfer(final SpiTransfer transfer)
    {
        chips[transfer.chipSelect()].frame(transfer);
        if ((transfer.mode() & TransferHead.MODE_LOOP) != 0)
        {
            MemorySegment.copy(transfer.tx(), 0, transfer.rx(), 0, transfer.length());
        }
        return true;
    }

    @Override
    public String describe()
    {
        final StringBuilder sb = new StringBuilder("simulated controller (");
        for (int cs = 0; cs < chips.length; cs++)
        {
            sb.append(cs == 0 ? "" : ", ").append("cs").append(cs).append(' ').append(chips[cs].kind());
        }
        return sb.append(')').toString();
    }
}
