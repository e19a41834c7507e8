package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * {@code struct spi_transfer_head}, the device-readable start of every request (a flyweight over the device's scratch
 * buffer).
 * <pre>
 *   0      1      2      3      4      5          8      12     16            20          24              28         32
 *   +------+------+------+------+------+----------+------+------+-------------+-----------+---------------+----------+
 *   | cs   | bpw  | cs_  | tx_  | rx_  | reserved | mode | freq | word_delay_ | cs_setup_ | cs_delay_     | cs_change_
 *   |      |      |change| nbits| nbits| [3]      |      |      | ns          | ns        | hold_ns       | delay_
 *   |      |      |      |      |      |          |      |      |             |           |               | inactive_ns
 *   +------+------+------+------+------+----------+------+------+-------------+-----------+---------------+----------+
 *   cs:         u8, chip_select_id, below the config's cs_max_number
 *   bpw:        u8, bits_per_word, allowed by the config's bits_per_word_mask (bit n: n + 1 bits)
 *   cs_change:  u8, 1 to deselect the chip between this transfer and the next
 *   tx_/rx_nbits: u8, bus width 0 or 1 (single), 2 (dual), 4 (quad), 8 (octal)
 *   mode:       le32, bit 0 CPHA, 1 CPOL, 2 CS_HIGH, 3 LSB_FIRST, 4 LOOP
 *   freq:       le32, clock in Hz
 *   the four delays: le32 nanoseconds, each at most the config's maximum (0: none allowed)
 * </pre>
 * The request continues with the bytes to send (device-readable, absent for a half-duplex read), the buffer for the
 * bytes received (device-writable, absent for a half-duplex write; as long as the bytes sent when both are there), and
 * ends with {@code struct spi_transfer_result}, one device-writable result byte.
 */
final class TransferHead
{
    static final int SIZE = 32;

    static final int MODE_CPHA = 1;
    static final int MODE_CPOL = 1 << 1;
    static final int MODE_CS_HIGH = 1 << 2;
    static final int MODE_LSB_FIRST = 1 << 3;
    static final int MODE_LOOP = 1 << 4;
    /** Every mode bit virtio-spi defines. */
    static final int MODE_ALL = 0x1F;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment buffer;

    TransferHead wrap(final MemorySegment scratch)
    {
        this.buffer = scratch;
        return this;
    }

    int chipSelect()
    {
        return u8(0);
    }

    int bitsPerWord()
    {
        return u8(1);
    }

    int csChange()
    {
        return u8(2);
    }

    int txNbits()
    {
        return u8(3);
    }

    int rxNbits()
    {
        return u8(4);
    }

    int mode()
    {
        return buffer.get(LE32, 8);
    }

    /**
     * @return the clock in Hz, unsigned.
     */
    long freq()
    {
        return u32(12);
    }

    long wordDelayNs()
    {
        return u32(16);
    }

    long csSetupNs()
    {
        return u32(20);
    }

    long csDelayHoldNs()
    {
        return u32(24);
    }

    long csChangeDelayInactiveNs()
    {
        return u32(28);
    }

    private int u8(final int offset)
    {
        return buffer.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    private long u32(final int offset)
    {
        return Integer.toUnsignedLong(buffer.get(LE32, offset));
    }
}
