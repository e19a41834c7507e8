package io.jvhost.device.spi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One SPI transfer as a controller executes it: the parameters of a checked {@link TransferHead}, a length, and two
 * native staging buffers of {@link #MAX_LENGTH} bytes, the bytes to send ({@link #tx()}, zeros for a half-duplex read:
 * the controller shifts out zeros) and the bytes received ({@link #rx()}). Made once per device, reused for every
 * transfer.
 */
public final class SpiTransfer
{
    /** The longest transfer: 64 KiB (Linux's spidev takes 4 KiB unless its bufsiz is raised). */
    public static final int MAX_LENGTH = 64 * 1024;

    private final Arena arena = Arena.ofAuto();
    private final MemorySegment tx = arena.allocate(MAX_LENGTH, 16);
    private final MemorySegment rx = arena.allocate(MAX_LENGTH, 16);
    private int chipSelect;
    private int bitsPerWord;
    private int txNbits;
    private int rxNbits;
    private int mode;
    private long freq;
    private long csDelayHoldNs;
    private int length;
    private boolean hasTx;
    private boolean hasRx;

    /**
     * Sets the transfer's parameters (the device checked them against the controller's {@link SpiConfig}).
     */
    public SpiTransfer set(final int chipSelect, final int bitsPerWord, final int mode, final long freq,
        final int txNbits, final int rxNbits, final long csDelayHoldNs, final int length, final boolean hasTx,
        final boolean hasRx)
    {
        if (length < 0 || length > MAX_LENGTH)
        {
            throw new IllegalArgumentException("transfer length " + length + " outside 0.." + MAX_LENGTH);
        }
        this.chipSelect = chipSelect;
        this.bitsPerWord = bitsPerWord;
        this.mode = mode;
        this.freq = freq;
        this.txNbits = txNbits;
        this.rxNbits = rxNbits;
        this.csDelayHoldNs = csDelayHoldNs;
        this.length = length;
        this.hasTx = hasTx;
        this.hasRx = hasRx;
        return this;
    }

    public int chipSelect()
    {
        return chipSelect;
    }

    public int bitsPerWord()
    {
        return bitsPerWord;
    }

    /**
     * @return the virtio mode bits (CPHA, CPOL, CS_HIGH, LSB_FIRST, LOOP).
     */
    public int mode()
    {
        return mode;
    }

    public long freq()
    {
        return freq;
    }

    public int txNbits()
    {
        return txNbits;
    }

    public int rxNbits()
    {
        return rxNbits;
    }

    public long csDelayHoldNs()
    {
        return csDelayHoldNs;
    }

    public int length()
    {
        return length;
    }

    /**
     * @return false for a half-duplex read (the driver sent no bytes; {@link #tx()} holds zeros).
     */
    public boolean hasTx()
    {
        return hasTx;
    }

    /**
     * @return false for a half-duplex write (the driver wants no bytes back).
     */
    public boolean hasRx()
    {
        return hasRx;
    }

    /**
     * Sets the first {@code length} bytes of {@code segment} to {@code value} without making a slice (so without
     * allocating, which {@code asSlice(...).fill(...)} may).
     */
    public static void fill(final MemorySegment segment, final int length, final byte value)
    {
        final long word = (value & 0xFFL) * 0x0101_0101_0101_0101L;
        int i = 0;
        for (; i + 8 <= length; i += 8)
        {
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, i, word);
        }
        for (; i < length; i++)
        {
            segment.set(ValueLayout.JAVA_BYTE, i, value);
        }
    }

    /**
     * @return the whole native buffer of bytes to send; the transfer's are the first {@link #length()}.
     */
    public MemorySegment tx()
    {
        return tx;
    }

    /**
     * @return the whole native buffer for the bytes received; the transfer's are the first {@link #length()}.
     */
    public MemorySegment rx()
    {
        return rx;
    }
}
