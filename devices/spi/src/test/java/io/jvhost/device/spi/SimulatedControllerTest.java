package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The simulated chips' frames and {@link ControllerSpec}'s {@code --device} syntax.
 */
class SimulatedControllerTest
{
    private final SpiTransfer t = new SpiTransfer();

    private byte[] frame(final SimulatedController c, final int cs, final int mode, final int... tx)
    {
        for (int i = 0; i < tx.length; i++)
        {
            t.tx().set(ValueLayout.JAVA_BYTE, i, (byte)tx[i]);
        }
        t.set(cs, 8, mode, 1_000_000, 1, 1, 0, tx.length, true, true);
        assertThat(c.transfer(t)).isTrue();
        return t.rx().asSlice(0, tx.length).toArray(ValueLayout.JAVA_BYTE);
    }

    private byte[] read(final SimulatedController c, final int cs, final int length)
    {
        t.tx().asSlice(0, length).fill((byte)0);
        t.set(cs, 8, 0, 1_000_000, 1, 1, 0, length, false, true);
        assertThat(c.transfer(t)).isTrue();
        return t.rx().asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void theEepromReadsWhatWasWrittenWrapsAndContinuesAHalfDuplexRead()
    {
        final SimulatedController c = (SimulatedController)assertOpens("sim:eeprom");
        final SimulatedEeprom eeprom = (SimulatedEeprom)c.chip(0);
        assertThat(eeprom.contents()).as("erased").containsOnly(0xFF);
        assertThat(frame(c, 0, 0, SimulatedEeprom.WREN)).containsExactly(0xFF);
        assertThat(frame(c, 0, 0, SimulatedEeprom.WRITE, 0xFE, 1, 2, 3, 4)).containsOnly(0xFF);
        assertThat(eeprom.contents()[0xFE]).isEqualTo((byte)1);
        assertThat(eeprom.contents()[0]).as("the write wrapped at 256").isEqualTo((byte)3);
        assertThat(frame(c, 0, 0, SimulatedEeprom.READ, 0xFF, 0, 0, 0)).containsExactly(0xFF, 0xFF, 2, 3, 4);
        assertThat(read(c, 0, 2)).as("continues where the READ stopped").containsExactly(0xFF, 0xFF);
        assertThat(frame(c, 0, 0, SimulatedEeprom.READ, 0x00)).containsExactly(0xFF, 0xFF);
        assertThat(read(c, 0, 3)).as("READ and address alone, then the data").containsExactly(3, 4, 0xFF);
        assertThat(frame(c, 0, 0, SimulatedEeprom.RDSR, 0, 0)).containsExactly(0xFF, 0, 0);
        assertThat(frame(c, 0, 0, 0x9F, 0, 0)).as("an unknown command drives nothing").containsOnly(0xFF);
        assertThat(frame(c, 0, 0, SimulatedEeprom.WRITE)).as("a WRITE without address").containsExactly(0xFF);
        assertThat(frame(c, 0, TransferHead.MODE_LOOP, SimulatedEeprom.WRITE, 0x10, 0x77))
            .as("loopback mode").containsExactly(SimulatedEeprom.WRITE, 0x10, 0x77);
        assertThat(eeprom.contents()[0x10]).as("the chip saw the looped frame").isEqualTo((byte)0x77);
    }

    @Test
    void theLoopbackReceivesWhatItSendsAndZerosForAHalfDuplexRead()
    {
        final SimulatedController c = (SimulatedController)assertOpens("sim:eeprom:loopback");
        assertThat(frame(c, 1, 0, 1, 2, 0xFE)).containsExactly(1, 2, 0xFE);
        assertThat(read(c, 1, 2)).containsExactly(0, 0);
        assertThat(c.config().csMaxNumber()).isEqualTo(2);
        assertThat(c.describe()).isEqualTo("simulated controller (cs0 eeprom, cs1 loopback)");
        final MemorySegment wire = MemorySegment.ofArray(new byte[SpiConfig.SIZE]);
        c.config().write(wire);
        assertThat(wire.toArray(ValueLayout.JAVA_BYTE)).startsWith(2, 1, 0, 0, 0x80, 0x80, 0x00, 0x80, 0x7F, 0, 0, 0);
    }

    @Test
    void theDeviceSyntaxIsASpidevPathOrSimulatedChips() throws Exception
    {
        assertThat(ControllerSpec.simulatedChips("/dev/spidev1.2")).isNull();
        assertThat(ControllerSpec.simulatedChips("sim:loopback:eeprom")).containsExactly("loopback", "eeprom");
        assertThatThrownBy(() -> ControllerSpec.simulatedChips("sim:")).hasMessageContaining("''");
        assertThatThrownBy(() -> ControllerSpec.simulatedChips("sim:loopback:rom"))
            .hasMessageContaining("'rom': unknown simulated chip (loopback, eeprom)");
        assertThatThrownBy(() -> ControllerSpec.simulatedChips(" ")).hasMessageContaining("no device given");
        assertThatThrownBy(() -> ControllerSpec.simulatedChips("sim:" + "loopback:".repeat(16) + "eeprom"))
            .hasMessageContaining("17 chips").hasMessageContaining("at most 16");
        assertThatThrownBy(() -> new SpiConfig(1, true, 0, 0, 0, 0x70, 0, 0, 0, 0, 0))
            .hasMessageContaining("mode_func_supported 0x70");
        assertThatThrownBy(() -> new SpiConfig(0, true, 0, 0, 0, 0xF, 0, 0, 0, 0, 0))
            .hasMessageContaining("cs_max_number must be 1..255, got 0");
    }

    private static SpiController assertOpens(final String spec)
    {
        try
        {
            return ControllerSpec.open(spec);
        }
        catch (final java.io.IOException e)
        {
            throw new AssertionError(e);
        }
    }

    @Test
    void aControllerHasOneToSixteenChips()
    {
        assertThatThrownBy(() -> new SimulatedController(List.of())).hasMessageContaining("got 0");
    }
}
