package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_spi_config}: what the host controller supports, which the device both reports to the driver
 * and holds every transfer to (a transfer asking for more is answered PARAM_ERR).
 * <pre>
 *   0        1        2        3        4                 8                 12            16
 *   +--------+--------+--------+--------+-----------------+-----------------+-------------+
 *   | cs_max | cs_    | tx_    | rx_    | bits_per_word_  | mode_func_      | max_freq_hz |
 *   | _number| change_| nbits_ | nbits_ | mask            | supported       |             |
 *   |        | supp.  | supp.  | supp.  |                 |                 |             |
 *   +--------+--------+--------+--------+-----------------+-----------------+-------------+
 *   16                  20                24                28                  32
 *   +-------------------+-----------------+-----------------+-------------------+
 *   | max_word_delay_ns | max_cs_setup_ns | max_cs_hold_ns  | max_cs_inactive_ns|
 *   +-------------------+-----------------+-----------------+-------------------+
 *   nbits_supported: bit 0 DUAL, 1 QUAD, 2 OCTAL (single is always supported)
 *   bits_per_word_mask: bit n set = n + 1 bits per word supported; 0 = any
 *   mode_func_supported: bit 0 CPHA=0, 1 CPHA=1, 2 CPOL=0, 3 CPOL=1, 4 CS_HIGH, 5 LSB_FIRST, 6 LOOP
 *   max_freq_hz: 0 = no limit; the four delays: 0 = that delay is not supported
 * </pre>
 * All multi-byte fields little-endian; 32 bytes, read by QEMU with GET_CONFIG.
 */
public record SpiConfig(int csMaxNumber, boolean csChangeSupported, int txNbitsSupported, int rxNbitsSupported,
    int bitsPerWordMask, int modeFuncSupported, long maxFreqHz, long maxWordDelayNs, long maxCsSetupNs,
    long maxCsHoldNs, long maxCsInactiveNs)
{
    public static final int SIZE = 32;

    public static final int NBITS_DUAL = 1;
    public static final int NBITS_QUAD = 1 << 1;
    public static final int NBITS_OCTAL = 1 << 2;

    public static final int MF_CPHA_0 = 1;
    public static final int MF_CPHA_1 = 1 << 1;
    public static final int MF_CPOL_0 = 1 << 2;
    public static final int MF_CPOL_1 = 1 << 3;
    public static final int MF_CS_HIGH = 1 << 4;
    public static final int MF_LSB_FIRST = 1 << 5;
    public static final int MF_LOOPBACK = 1 << 6;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * @throws IllegalArgumentException when a field is outside its wire type, or the modes offer no CPHA or no CPOL
     *                                  setting (the spec's "invalid").
     */
    public SpiConfig
    {
        if (csMaxNumber < 1 || csMaxNumber > 255)
        {
            throw new IllegalArgumentException("cs_max_number must be 1..255, got " + csMaxNumber);
        }
        if ((txNbitsSupported & ~7) != 0 || (rxNbitsSupported & ~7) != 0)
        {
            throw new IllegalArgumentException("n-bit support has bits other than DUAL, QUAD, OCTAL: tx 0x"
                + Integer.toHexString(txNbitsSupported) + ", rx 0x" + Integer.toHexString(rxNbitsSupported));
        }
        if ((modeFuncSupported & ~0x7F) != 0 || (modeFuncSupported & 3) == 0 || (modeFuncSupported & 0xC) == 0)
        {
            throw new IllegalArgumentException("mode_func_supported 0x" + Integer.toHexString(modeFuncSupported)
                + " must name at least one CPHA and one CPOL setting and nothing above bit 6");
        }
        for (final long v : new long[] {maxFreqHz, maxWordDelayNs, maxCsSetupNs, maxCsHoldNs, maxCsInactiveNs})
        {
            if (v < 0 || v > 0xFFFF_FFFFL)
            {
                throw new IllegalArgumentException("a frequency or delay limit is no le32: " + v);
            }
        }
    }

    /**
     * Writes the 32-byte wire form into {@code dst} at 0.
     */
    public void write(final MemorySegment dst)
    {
        dst.set(ValueLayout.JAVA_BYTE, 0, (byte)csMaxNumber);
        dst.set(ValueLayout.JAVA_BYTE, 1, (byte)(csChangeSupported ? 1 : 0));
        dst.set(ValueLayout.JAVA_BYTE, 2, (byte)txNbitsSupported);
        dst.set(ValueLayout.JAVA_BYTE, 3, (byte)rxNbitsSupported);
        dst.set(LE32, 4, bitsPerWordMask);
        dst.set(LE32, 8, modeFuncSupported);
        dst.set(LE32, 12, (int)maxFreqHz);
        dst.set(LE32, 16, (int)maxWordDelayNs);
        dst.set(LE32, 20, (int)maxCsSetupNs);
        dst.set(LE32, 24, (int)maxCsHoldNs);
        dst.set(LE32, 28, (int)maxCsInactiveNs);
    }

    /**
     * @return bytes per word in the buffers for {@code bitsPerWord} (as Linux lays them out: 1 up to 8 bits, 2 up to
     *     16, else 4).
     */
    static int bytesPerWord(final int bitsPerWord)
    {
        return bitsPerWord <= 8 ? 1 : bitsPerWord <= 16 ? 2 : 4;
    }

    /** {@link #check}: the transfer may run. */
    static final int VALID = 0;
    static final int BAD_CHIP_SELECT = 1;
    static final int BAD_WORD_SIZE = 2;
    static final int BAD_WORD_MULTIPLE = 3;
    static final int BAD_CS_CHANGE = 4;
    static final int BAD_BUS_WIDTH = 5;
    static final int BAD_MODE = 6;
    static final int BAD_FREQ = 7;
    static final int BAD_DELAY = 8;

    /**
     * Checks a transfer against what this controller supports, as the spec asks the device to before it runs one.
     * Allocates nothing; {@link #describe} says why in words.
     *
     * @param length the transfer's length in bytes.
     * @return {@link #VALID}, or why the transfer is a parameter error.
     */
    int check(final TransferHead h, final long length)
    {
        if (h.chipSelect() >= csMaxNumber)
        {
            return BAD_CHIP_SELECT;
        }
        final int bpw = h.bitsPerWord();
        if (bpw < 1 || bpw > 32 || bitsPerWordMask != 0 && (bitsPerWordMask & 1 << bpw - 1) == 0)
        {
            return BAD_WORD_SIZE;
        }
        if (length % bytesPerWord(bpw) != 0)
        {
            return BAD_WORD_MULTIPLE;
        }
        if (h.csChange() > 1)
        {
            return BAD_CS_CHANGE;
        }
        if (!nbitsSupported(h.txNbits(), txNbitsSupported) || !nbitsSupported(h.rxNbits(), rxNbitsSupported))
        {
            return BAD_BUS_WIDTH;
        }
        final int mode = h.mode();
        if ((mode & ~TransferHead.MODE_ALL) != 0 || !modeSupported(mode))
        {
            return BAD_MODE;
        }
        if (maxFreqHz != 0 && h.freq() > maxFreqHz)
        {
            return BAD_FREQ;
        }
        if (h.wordDelayNs() > maxWordDelayNs || h.csSetupNs() > maxCsSetupNs || h.csDelayHoldNs() > maxCsHoldNs
            || h.csChangeDelayInactiveNs() > maxCsInactiveNs)
        {
            return BAD_DELAY;
        }
        return VALID;
    }

    /**
     * @return {@link #check}'s {@code reason} for {@code h} in words, with the offending values and the limits.
     */
    String describe(final int reason, final TransferHead h, final long length)
    {
        return switch (reason)
        {
            case BAD_CHIP_SELECT -> "chip select " + h.chipSelect() + " is not below cs_max_number " + csMaxNumber;
            case BAD_WORD_SIZE -> h.bitsPerWord() + " bits per word are not supported (bits_per_word_mask 0x"
                + Integer.toHexString(bitsPerWordMask) + ")";
            case BAD_WORD_MULTIPLE -> length + " bytes are no whole number of " + h.bitsPerWord() + "-bit words";
            case BAD_CS_CHANGE -> "cs_change " + h.csChange() + " is neither 0 nor 1";
            case BAD_BUS_WIDTH -> "bus width tx " + h.txNbits() + "/rx " + h.rxNbits() + " is not supported"
                + " (tx_nbits_supported 0x" + Integer.toHexString(txNbitsSupported) + ", rx 0x"
                + Integer.toHexString(rxNbitsSupported) + ")";
            case BAD_MODE -> "mode 0x" + Integer.toHexString(h.mode()) + " is not supported (mode_func_supported 0x"
                + Integer.toHexString(modeFuncSupported) + ")";
            case BAD_FREQ -> h.freq() + " Hz is above max_freq_hz " + maxFreqHz;
            case BAD_DELAY -> "delays (word " + h.wordDelayNs() + ", cs setup " + h.csSetupNs() + ", cs hold "
                + h.csDelayHoldNs() + ", cs inactive " + h.csChangeDelayInactiveNs() + " ns) exceed the limits ("
                + maxWordDelayNs + ", " + maxCsSetupNs + ", " + maxCsHoldNs + ", " + maxCsInactiveNs + " ns)";
            default -> "valid";
        };
    }

    private static boolean nbitsSupported(final int nbits, final int supported)
    {
        return switch (nbits)
        {
            case 0, 1 -> true;
            case 2 -> (supported & NBITS_DUAL) != 0;
            case 4 -> (supported & NBITS_QUAD) != 0;
            case 8 -> (supported & NBITS_OCTAL) != 0;
            default -> false;
        };
    }

    private boolean modeSupported(final int mode)
    {
        final int need = ((mode & TransferHead.MODE_CPHA) != 0 ? MF_CPHA_1 : MF_CPHA_0)
            | ((mode & TransferHead.MODE_CPOL) != 0 ? MF_CPOL_1 : MF_CPOL_0)
            | ((mode & TransferHead.MODE_CS_HIGH) != 0 ? MF_CS_HIGH : 0)
            | ((mode & TransferHead.MODE_LSB_FIRST) != 0 ? MF_LSB_FIRST : 0)
            | ((mode & TransferHead.MODE_LOOP) != 0 ? MF_LOOPBACK : 0);
        return (modeFuncSupported & need) == need;
    }
}
