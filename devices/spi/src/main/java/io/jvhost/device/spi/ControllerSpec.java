package io.jvhost.device.spi;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * vhost-device-spi's {@code --device}, plus simulated controllers: a spidev path ({@code /dev/spidevX.Y}), or
 * {@code sim:CHIP[:CHIP...]} for jvhost's {@link SimulatedController} with one chip per chip select, cs 0 first.
 * {@code CHIP} is {@code loopback} (rx = tx) or {@code eeprom} (a 256-byte 25xx EEPROM, see {@link SimulatedEeprom}).
 * Example: {@code sim:loopback:eeprom} (cs 0 loops back, cs 1 is the EEPROM).
 */
public final class ControllerSpec
{
    public static final String SIM = "sim:";

    private ControllerSpec()
    {
    }

    /**
     * @return the simulated chips {@code spec} names, or null when it is a spidev path.
     * @throws IllegalArgumentException naming the offending part.
     */
    public static List<String> simulatedChips(final String spec)
    {
        final String s = spec.strip();
        if (s.isEmpty())
        {
            throw new IllegalArgumentException("no device given; use /dev/spidevX.Y or sim:CHIP[:CHIP...]");
        }
        if (!s.startsWith(SIM))
        {
            return null;
        }
        final List<String> chips = new ArrayList<>();
        for (final String chip : s.substring(SIM.length()).split(":", -1))
        {
            final String kind = chip.strip();
            if (!"loopback".equals(kind) && !"eeprom".equals(kind))
            {
                throw new IllegalArgumentException("'" + chip + "': unknown simulated chip (loopback, eeprom) in '"
                    + spec + "'");
            }
            chips.add(kind);
        }
        if (chips.size() > SimulatedController.MAX_CHIPS)
        {
            throw new IllegalArgumentException("'" + spec + "' names " + chips.size() + " chips; a simulated"
                + " controller has at most " + SimulatedController.MAX_CHIPS + " chip selects");
        }
        return List.copyOf(chips);
    }

    /**
     * Opens the controller {@code spec} names.
     *
     * @throws IllegalArgumentException for a malformed simulated spec.
     * @throws IOException when the spidev cannot be opened or is no spidev.
     */
    public static SpiController open(final String spec) throws IOException
    {
        final List<String> chips = simulatedChips(spec);
        if (null == chips)
        {
            return LinuxSpiController.open(spec.strip());
        }
        final List<SimulatedChip> made = new ArrayList<>();
        for (final String kind : chips)
        {
            made.add("eeprom".equals(kind) ? new SimulatedEeprom() : new SimulatedLoopback());
        }
        return new SimulatedController(made);
    }
}
