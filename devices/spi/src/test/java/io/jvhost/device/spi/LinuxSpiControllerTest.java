package io.jvhost.device.spi;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LinuxSpiController}'s ioctls as the kernel would see them: this machine has no spidev, so a fake ioctl keeps a
 * spidev's mode, word size and speed, takes only the settings its controller supports (CPHA, CPOL, CS_HIGH, dual
 * transmit and receive, 8- and 16-bit words; LSB_FIRST is dropped silently, as spi_setup drops bits it ignores), and
 * decodes {@code struct spi_ioc_transfer} as spidev does on x86-64. The controller is opened on a regular file standing
 * in for {@code /dev/spidev0.0}; the real ioctl on that file gives the error paths.
 */
class LinuxSpiControllerTest
{
    private static final int SETTABLE = LinuxSpiController.SPI_CPHA | LinuxSpiController.SPI_CPOL
        | LinuxSpiController.SPI_CS_HIGH | LinuxSpiController.SPI_TX_DUAL | LinuxSpiController.SPI_RX_DUAL;

    @TempDir
    Path dir;

    private Path node;
    private int mode = LinuxSpiController.SPI_CPOL;
    private int bits = 8;
    private final List<String> calls = new ArrayList<>();
    private int failMessageWith;

    /** One decoded struct spi_ioc_transfer. */
    private record Transfer(long txBuf, long rxBuf, int len, int speed, int delayUsecs, int bits, int csChange,
        int txNbits, int rxNbits, byte[] sent)
    {
    }

    private final List<Transfer> transfers = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException
    {
        node = Files.write(dir.resolve("spidev0.0"), new byte[0]);
    }

    private int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        final MemorySegment a = arg.reinterpret(32);
        if (request == LinuxSpiController.SPI_IOC_RD_MODE32)
        {
            a.set(ValueLayout.JAVA_INT, 0, mode);
            return 0;
        }
        if (request == LinuxSpiController.SPI_IOC_WR_MODE32)
        {
            final int wanted = a.get(ValueLayout.JAVA_INT, 0);
            calls.add("WR_MODE32 0x" + Integer.toHexString(wanted));
            if ((wanted & ~(SETTABLE | LinuxSpiController.SPI_LSB_FIRST)) != 0)
            {
                return -22;
            }
            mode = wanted & ~LinuxSpiController.SPI_LSB_FIRST;
            return 0;
        }
        if (request == LinuxSpiController.SPI_IOC_RD_BITS_PER_WORD)
        {
            a.set(ValueLayout.JAVA_BYTE, 0, (byte)bits);
            return 0;
        }
        if (request == LinuxSpiController.SPI_IOC_WR_BITS_PER_WORD)
        {
            final int wanted = a.get(ValueLayout.JAVA_BYTE, 0);
            if (wanted != 8 && wanted != 16)
            {
                return -22;
            }
            bits = wanted;
            return 0;
        }
        if (request == LinuxSpiController.SPI_IOC_RD_MAX_SPEED_HZ)
        {
            a.set(ValueLayout.JAVA_INT, 0, 2_000_000);
            return 0;
        }
        if (request == LinuxSpiController.SPI_IOC_MESSAGE_1)
        {
            final long tx = a.get(ValueLayout.JAVA_LONG, 0);
            final long rx = a.get(ValueLayout.JAVA_LONG, 8);
            final int len = a.get(ValueLayout.JAVA_INT, 16);
            final byte[] sent = tx == 0 ? null : MemorySegment.ofAddress(tx).reinterpret(len)
                .toArray(ValueLayout.JAVA_BYTE);
            transfers.add(new Transfer(tx, rx, len, a.get(ValueLayout.JAVA_INT, 20),
                a.get(ValueLayout.JAVA_SHORT, 24) & 0xFFFF, a.get(ValueLayout.JAVA_BYTE, 26),
                a.get(ValueLayout.JAVA_BYTE, 27), a.get(ValueLayout.JAVA_BYTE, 28), a.get(ValueLayout.JAVA_BYTE, 29),
                sent));
            calls.add("MESSAGE(1)");
            if (failMessageWith != 0)
            {
                return -failMessageWith;
            }
            if (rx != 0)
            {
                final MemorySegment r = MemorySegment.ofAddress(rx).reinterpret(len);
                for (int i = 0; i < len; i++)
                {
                    r.set(ValueLayout.JAVA_BYTE, i, (byte)~(null == sent ? 0 : sent[i]));
                }
            }
            return len;
        }
        return -25;
    }

    private LinuxSpiController open() throws IOException
    {
        return LinuxSpiController.open(node.toString(), this::ioctl);
    }

    @Test
    void theConfigIsWhatTheSpidevTakesAndItsSettingsAreRestored() throws IOException
    {
        try (LinuxSpiController c = open())
        {
            final SpiConfig config = c.config();
            assertThat(config.csMaxNumber()).as("the spidev's own chip select").isEqualTo(1);
            assertThat(config.csChangeSupported()).isTrue();
            assertThat(config.modeFuncSupported()).as("CPHA 0/1, CPOL 0/1, CS_HIGH; LSB_FIRST does not stick")
                .isEqualTo(SpiConfig.MF_CPHA_0 | SpiConfig.MF_CPHA_1 | SpiConfig.MF_CPOL_0 | SpiConfig.MF_CPOL_1
                    | SpiConfig.MF_CS_HIGH);
            assertThat(config.txNbitsSupported()).isEqualTo(SpiConfig.NBITS_DUAL);
            assertThat(config.rxNbitsSupported()).isEqualTo(SpiConfig.NBITS_DUAL);
            assertThat(config.bitsPerWordMask()).isEqualTo(1 << 7 | 1 << 15);
            assertThat(config.maxFreqHz()).isEqualTo(2_000_000);
            assertThat(config.maxCsHoldNs()).isEqualTo(65_535_000L);
            assertThat(config.maxWordDelayNs() + config.maxCsSetupNs() + config.maxCsInactiveNs()).isZero();
            assertThat(mode).as("the mode as it was").isEqualTo(LinuxSpiController.SPI_CPOL);
            assertThat(bits).as("the word size as it was").isEqualTo(8);
            assertThat(c.describe()).startsWith(node + " (modes 0x1f");
        }
    }

    @Test
    void aTransferIsOneMessageWithItsParametersAndTheModeIsSetOnlyWhenItChanges() throws IOException
    {
        try (LinuxSpiController c = open())
        {
            calls.clear();
            final SpiTransfer t = new SpiTransfer();
            t.tx().set(ValueLayout.JAVA_BYTE, 0, (byte)0x12);
            t.tx().set(ValueLayout.JAVA_BYTE, 1, (byte)0x34);
            t.set(0, 16, TransferHead.MODE_CPHA | TransferHead.MODE_CPOL, 1_500_000, 2, 1, 2_500, 2, true, true);
            assertThat(c.transfer(t)).isTrue();
            assertThat(c.transfer(t)).isTrue();
            assertThat(calls).as("WR_MODE32 once, for CPHA|CPOL|TX_DUAL")
                .containsExactly("WR_MODE32 0x103", "MESSAGE(1)", "MESSAGE(1)");
            final Transfer m = transfers.get(0);
            assertThat(m.txBuf()).isEqualTo(t.tx().address());
            assertThat(m.rxBuf()).isEqualTo(t.rx().address());
            assertThat(m.len()).isEqualTo(2);
            assertThat(m.speed()).isEqualTo(1_500_000);
            assertThat(m.delayUsecs()).as("2,500 ns hold, rounded up").isEqualTo(3);
            assertThat(m.bits()).isEqualTo(16);
            assertThat(m.csChange()).as("every transfer its own chip-select frame").isZero();
            assertThat(m.txNbits()).isEqualTo(2);
            assertThat(m.rxNbits()).isEqualTo(1);
            assertThat(m.sent()).containsExactly(0x12, 0x34);
            assertThat(t.rx().get(ValueLayout.JAVA_BYTE, 0)).as("what the spidev received").isEqualTo((byte)~0x12);

            calls.clear();
            t.set(0, 8, TransferHead.MODE_CS_HIGH, 0, 1, 1, 0, 3, false, true);
            assertThat(c.transfer(t)).isTrue();
            assertThat(calls).containsExactly("WR_MODE32 0x4", "MESSAGE(1)");
            assertThat(transfers.get(2).txBuf()).as("a half-duplex read sends no tx buffer").isZero();
            t.set(0, 8, TransferHead.MODE_CS_HIGH, 0, 1, 1, 0, 3, true, false);
            assertThat(c.transfer(t)).isTrue();
            assertThat(transfers.get(3).rxBuf()).as("a half-duplex write asks for no rx").isZero();

            failMessageWith = 90;
            assertThat(c.transfer(t)).as("EMSGSIZE from spidev").isFalse();
            t.set(0, 8, TransferHead.MODE_LOOP, 0, 1, 1, 0, 3, true, false);
            calls.clear();
            failMessageWith = 0;
            assertThat(c.transfer(t)).as("LOOP is not settable on this spidev").isFalse();
            assertThat(calls).containsExactly("WR_MODE32 0x20");
        }
        assertThat(mode).as("closing restores the mode").isEqualTo(LinuxSpiController.SPI_CPOL);
    }

    @Test
    void aMissingNodeAndANodeThatIsNoSpidevAreNamedWithTheirErrno() throws IOException
    {
        assertThatThrownBy(() -> LinuxSpiController.open(dir.resolve("spidev9.9").toString()))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("cannot open SPI device " + dir.resolve("spidev9.9") + ": ENOENT");
        assertThatThrownBy(() -> LinuxSpiController.open(node.toString()))
            .isInstanceOf(IOException.class)
            .hasMessage(node + " is no spidev: SPI_IOC_RD_MODE32 failed: ENOTTY");
        bits = 12;
        assertThatThrownBy(this::open).as("a word size it cannot restore")
            .hasMessageContaining("restoring 12 bits per word failed: EINVAL");
    }
}
