package io.jvhost.device.spi;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Errno;
import io.jvhost.os.Ioctl;
import io.jvhost.os.IoctlCall;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * A host SPI device through Linux's spidev ({@code /dev/spidevX.Y}, one chip select of one controller), with ioctls
 * made through FFM. At open it finds what the spidev supports, as vhost-device-spi does, by trying each setting and
 * reading it back (SPI_IOC_WR_MODE32/RD_MODE32 for CPHA, CPOL, CS_HIGH, LSB_FIRST, LOOP and the dual/quad/octal bus
 * widths; SPI_IOC_WR_BITS_PER_WORD for 1..32 bits), then restores the spidev's settings. The clock limit is the
 * spidev's speed (SPI_IOC_RD_MAX_SPEED_HZ: the device's max-speed from the board description); cs_max_number is 1
 * (chip select 0 is the spidev's own); the one delay spidev can express is the hold before deselect
 * ({@code delay_usecs}, up to 65,535 µs).
 * <p>
 * Per transfer: SPI_IOC_WR_MODE32 when the transfer's mode or bus widths differ from the last one's, then one
 * SPI_IOC_MESSAGE(1) with the transfer's speed, word size, bus widths and hold delay, and {@code cs_change} 0, so
 * each transfer is its own chip-select frame (virtio-spi carries no message boundaries: Linux's own cs_change on a
 * message's last transfer means "stay selected after the message", the opposite of the virtio field; passing it
 * through, as vhost-device-spi does, inverts it for the last transfer of each ioctl, which with Linux's
 * one-at-a-time driver is every transfer). Its kernel structure lives in native memory made once, and the
 * data in the transfer's native staging buffers, so a transfer allocates nothing.
 */
public final class LinuxSpiController implements SpiController
{
    static final long SPI_IOC_MESSAGE_1 = 0x4020_6b00L;
    static final long SPI_IOC_RD_BITS_PER_WORD = 0x8001_6b03L;
    static final long SPI_IOC_WR_BITS_PER_WORD = 0x4001_6b03L;
    static final long SPI_IOC_RD_MAX_SPEED_HZ = 0x8004_6b04L;
    static final long SPI_IOC_RD_MODE32 = 0x8004_6b05L;
    static final long SPI_IOC_WR_MODE32 = 0x4004_6b05L;

    /** Linux's SPI mode bits (include/uapi/linux/spi/spi.h); LOOP is not virtio's bit 4 (that is SPI_3WIRE). */
    static final int SPI_CPHA = 0x1;
    static final int SPI_CPOL = 0x2;
    static final int SPI_CS_HIGH = 0x4;
    static final int SPI_LSB_FIRST = 0x8;
    static final int SPI_LOOP = 0x20;
    static final int SPI_TX_DUAL = 0x100;
    static final int SPI_TX_QUAD = 0x200;
    static final int SPI_RX_DUAL = 0x400;
    static final int SPI_RX_QUAD = 0x800;
    static final int SPI_TX_OCTAL = 0x2000;
    static final int SPI_RX_OCTAL = 0x4000;
    static final int TX_WIDTHS = SPI_TX_DUAL | SPI_TX_QUAD | SPI_TX_OCTAL;
    static final int RX_WIDTHS = SPI_RX_DUAL | SPI_RX_QUAD | SPI_RX_OCTAL;
    static final int TRANSFER_BITS = SPI_CPHA | SPI_CPOL | SPI_CS_HIGH | SPI_LSB_FIRST | SPI_LOOP | TX_WIDTHS
        | RX_WIDTHS;

    /** {@code struct spi_ioc_transfer}: tx_buf, rx_buf (u64), len, speed_hz (u32), delay_usecs (u16), 6 u8s. */
    static final int IOC_TRANSFER_SIZE = 32;
    /** The longest hold spidev expresses: delay_usecs is 16 bits of microseconds. */
    static final long MAX_CS_HOLD_NS = 65_535_000L;

    private static final System.Logger LOG = System.getLogger(LinuxSpiController.class.getName());

    private final String path;
    private final int fd;
    private final IoctlCall ioctl;
    private final int originalMode;
    private final SpiConfig config;
    private final MemorySegment word;
    private final MemorySegment message;
    private int mode;
    private long failures;

    LinuxSpiController(final String path, final int fd, final IoctlCall ioctl) throws IOException
    {
        this.path = path;
        this.fd = fd;
        this.ioctl = ioctl;
        final Arena arena = Arena.ofAuto();
        word = arena.allocate(8, 8);
        message = arena.allocate(IOC_TRANSFER_SIZE, 8);
        originalMode = readMode("SPI_IOC_RD_MODE32");
        mode = originalMode;
        int rc = ioctl.call(fd, SPI_IOC_RD_BITS_PER_WORD, word);
        if (rc < 0)
        {
            throw new IOException(path + ": SPI_IOC_RD_BITS_PER_WORD failed: " + Errno.name(-rc));
        }
        final int originalBits = word.get(ValueLayout.JAVA_BYTE, 0) & 0xFF;
        rc = ioctl.call(fd, SPI_IOC_RD_MAX_SPEED_HZ, word);
        if (rc < 0)
        {
            throw new IOException(path + ": SPI_IOC_RD_MAX_SPEED_HZ failed: " + Errno.name(-rc));
        }
        final long speed = Integer.toUnsignedLong(word.get(ValueLayout.JAVA_INT, 0));

        int modes = 0;
        modes |= (originalMode & SPI_CPHA) == 0 || sticks(originalMode & ~SPI_CPHA) ? SpiConfig.MF_CPHA_0 : 0;
        modes |= (originalMode & SPI_CPHA) != 0 || sticks(originalMode | SPI_CPHA) ? SpiConfig.MF_CPHA_1 : 0;
        modes |= (originalMode & SPI_CPOL) == 0 || sticks(originalMode & ~SPI_CPOL) ? SpiConfig.MF_CPOL_0 : 0;
        modes |= (originalMode & SPI_CPOL) != 0 || sticks(originalMode | SPI_CPOL) ? SpiConfig.MF_CPOL_1 : 0;
        modes |= sticks(originalMode | SPI_CS_HIGH) ? SpiConfig.MF_CS_HIGH : 0;
        modes |= sticks(originalMode | SPI_LSB_FIRST) ? SpiConfig.MF_LSB_FIRST : 0;
        modes |= sticks(originalMode | SPI_LOOP) ? SpiConfig.MF_LOOPBACK : 0;
        final int tx = (sticks(originalMode & ~TX_WIDTHS | SPI_TX_DUAL) ? SpiConfig.NBITS_DUAL : 0)
            | (sticks(originalMode & ~TX_WIDTHS | SPI_TX_QUAD) ? SpiConfig.NBITS_QUAD : 0)
            | (sticks(originalMode & ~TX_WIDTHS | SPI_TX_OCTAL) ? SpiConfig.NBITS_OCTAL : 0);
        final int rx = (sticks(originalMode & ~RX_WIDTHS | SPI_RX_DUAL) ? SpiConfig.NBITS_DUAL : 0)
            | (sticks(originalMode & ~RX_WIDTHS | SPI_RX_QUAD) ? SpiConfig.NBITS_QUAD : 0)
            | (sticks(originalMode & ~RX_WIDTHS | SPI_RX_OCTAL) ? SpiConfig.NBITS_OCTAL : 0);
        writeMode(originalMode);

        int bitsMask = 0;
        for (int bits = 1; bits <= 32; bits++)
        {
            word.set(ValueLayout.JAVA_BYTE, 0, (byte)bits);
            if (ioctl.call(fd, SPI_IOC_WR_BITS_PER_WORD, word) >= 0)
            {
                bitsMask |= 1 << bits - 1;
            }
        }
        word.set(ValueLayout.JAVA_BYTE, 0, (byte)originalBits);
        rc = ioctl.call(fd, SPI_IOC_WR_BITS_PER_WORD, word);
        if (rc < 0)
        {
            throw new IOException(path + ": restoring " + originalBits + " bits per word failed: " + Errno.name(-rc));
        }
        if (bitsMask == 0)
        {
            throw new IOException(path + " accepts no word size of 1..32 bits");
        }
        config = new SpiConfig(1, true, tx, rx, bitsMask, modes, speed, 0, 0, MAX_CS_HOLD_NS, 0);
    }

    /**
     * Opens {@code path}, a spidev node such as {@code /dev/spidev0.0}.
     */
    public static LinuxSpiController open(final String path) throws IOException
    {
        return open(path, new Ioctl());
    }

    static LinuxSpiController open(final String path, final IoctlCall ioctl) throws IOException
    {
        final int fd;
        try
        {
            fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        catch (final NativeException e)
        {
            throw new IOException("cannot open SPI device " + path + ": " + Errno.name(e.errno())
                + (e.errno() == 2 ? " (is spidev loaded and bound to the device?)" : ""), e);
        }
        try
        {
            return new LinuxSpiController(path, fd, ioctl);
        }
        catch (final IOException | RuntimeException e)
        {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    private int readMode(final String what) throws IOException
    {
        word.set(ValueLayout.JAVA_INT, 0, 0);
        final int rc = ioctl.call(fd, SPI_IOC_RD_MODE32, word);
        if (rc < 0)
        {
            throw new IOException(path + " is no spidev: " + what + " failed: " + Errno.name(-rc));
        }
        return word.get(ValueLayout.JAVA_INT, 0);
    }

    private void writeMode(final int value) throws IOException
    {
        word.set(ValueLayout.JAVA_INT, 0, value);
        final int rc = ioctl.call(fd, SPI_IOC_WR_MODE32, word);
        if (rc < 0)
        {
            throw new IOException(path + ": restoring mode 0x" + Integer.toHexString(value) + " failed: "
                + Errno.name(-rc));
        }
    }

    /**
     * @return true when the spidev takes mode {@code value} and reports it back unchanged.
     */
    private boolean sticks(final int value) throws IOException
    {
        word.set(ValueLayout.JAVA_INT, 0, value);
        if (ioctl.call(fd, SPI_IOC_WR_MODE32, word) < 0)
        {
            return false;
        }
        return readMode("SPI_IOC_RD_MODE32") == value;
    }

    @Override
    public SpiConfig config()
    {
        return config;
    }

    /**
     * @return Linux's mode for {@code t}: the spidev's own other bits, the transfer's mode and bus widths.
     */
    int modeFor(final SpiTransfer t)
    {
        final int m = t.mode();
        int wanted = originalMode & ~TRANSFER_BITS;
        wanted |= m & (SPI_CPHA | SPI_CPOL | SPI_CS_HIGH | SPI_LSB_FIRST);
        wanted |= (m & TransferHead.MODE_LOOP) != 0 ? SPI_LOOP : 0;
        wanted |= switch (t.txNbits())
        {
            case 2 -> SPI_TX_DUAL;
            case 4 -> SPI_TX_QUAD;
            case 8 -> SPI_TX_OCTAL;
            default -> 0;
        };
        wanted |= switch (t.rxNbits())
        {
            case 2 -> SPI_RX_DUAL;
            case 4 -> SPI_RX_QUAD;
            case 8 -> SPI_RX_OCTAL;
            default -> 0;
        };
        return wanted;
    }

    @Override
    public boolean transfer(final SpiTransfer t)
    {
        final int wanted = modeFor(t);
        if (wanted != mode)
        {
            word.set(ValueLayout.JAVA_INT, 0, wanted);
            final int rc = ioctl.call(fd, SPI_IOC_WR_MODE32, word);
            if (rc < 0)
            {
                failed("SPI_IOC_WR_MODE32 0x" + Integer.toHexString(wanted), rc);
                return false;
            }
            mode = wanted;
        }
        message.set(ValueLayout.JAVA_LONG, 0, t.hasTx() ? t.tx().address() : 0);
        message.set(ValueLayout.JAVA_LONG, 8, t.hasRx() ? t.rx().address() : 0);
        message.set(ValueLayout.JAVA_INT, 16, t.length());
        message.set(ValueLayout.JAVA_INT, 20, (int)t.freq());
        message.set(ValueLayout.JAVA_SHORT, 24, (short)Math.min(65_535, (t.csDelayHoldNs() + 999) / 1000));
        message.set(ValueLayout.JAVA_BYTE, 26, (byte)t.bitsPerWord());
        message.set(ValueLayout.JAVA_BYTE, 27, (byte)0);
        message.set(ValueLayout.JAVA_BYTE, 28, (byte)t.txNbits());
        message.set(ValueLayout.JAVA_BYTE, 29, (byte)t.rxNbits());
        message.set(ValueLayout.JAVA_SHORT, 30, (short)0);
        final int rc = ioctl.call(fd, SPI_IOC_MESSAGE_1, message);
        if (rc < 0)
        {
            failed("SPI_IOC_MESSAGE(1) of " + t.length() + " bytes", rc);
            return false;
        }
        return true;
    }

    private void failed(final String what, final int rc)
    {
        if (LogThrottle.due(++failures))
        {
            LOG.log(Level.WARNING, path + ": " + what + " failed: " + Errno.name(-rc) + " (" + failures
                + " failed transfers so far)");
        }
    }

    @Override
    public String describe()
    {
        return path + " (modes 0x" + Integer.toHexString(config.modeFuncSupported()) + ", word sizes 0x"
            + Integer.toHexString(config.bitsPerWordMask()) + ", " + config.maxFreqHz() + " Hz)";
    }

    /**
     * Restores the spidev's mode as it was at open and closes it.
     */
    @Override
    public void close()
    {
        if (mode != originalMode)
        {
            word.set(ValueLayout.JAVA_INT, 0, originalMode);
            ioctl.call(fd, SPI_IOC_WR_MODE32, word);
        }
        LibC.closeQuietly(fd);
    }
}
