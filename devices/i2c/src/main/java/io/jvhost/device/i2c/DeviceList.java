package io.jvhost.device.i2c;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * vhost-device-i2c's {@code --device-list}, plus simulated clients: {@code BUS:ADDR[:ADDR...][,BUS:ADDR...]}.
 * <ul>
 *   <li>{@code BUS} is an adapter number ({@code /dev/i2c-N}) or an adapter name ({@code /sys/bus/i2c/devices/i2c-N/
 *   name}), or {@code sim} for jvhost's simulated bus.</li>
 *   <li>{@code ADDR} is a 7-bit client address, decimal as vhost-device-i2c reads it, or hexadecimal with {@code 0x}:
 *   0..127. On the simulated bus each address names its client: {@code ADDR=eeprom} (a 256-byte 24C02) or
 *   {@code ADDR=lm75[/CELSIUS]} (a temperature sensor, 25 °C unless given).</li>
 * </ul>
 * Example: {@code 1:32:33,sim:0x50=eeprom:0x48=lm75/42.5}. Each bus may be listed once and each address once in all.
 */
public final class DeviceList
{
    /** A client on a bus: its address and, on the simulated bus, what it is. */
    public record Client(int address, String kind, double celsius)
    {
    }

    /** One bus of the list. */
    public record Bus(String identifier, List<Client> clients)
    {
        public boolean simulated()
        {
            return SIM.equals(identifier);
        }
    }

    public static final String SIM = "sim";

    private DeviceList()
    {
    }

    /**
     * @throws IllegalArgumentException naming the offending part.
     */
    public static List<Bus> parse(final String list)
    {
        final List<Bus> buses = new ArrayList<>();
        final Set<String> seenBuses = new HashSet<>();
        final Set<Integer> seenAddresses = new HashSet<>();
        if (list.isBlank())
        {
            throw new IllegalArgumentException("the device list is empty; give BUS:ADDR[:ADDR...][,BUS:ADDR...]");
        }
        for (final String entry : list.strip().split(",", -1))
        {
            final String[] parts = entry.split(":", -1);
            final String id = parts[0].strip();
            if (id.isEmpty())
            {
                throw new IllegalArgumentException("'" + entry + "' names no bus (BUS:ADDR[:ADDR...])");
            }
            if (!seenBuses.add(id.matches("[0-9]+") ? String.valueOf(Long.parseLong(id)) : id))
            {
                throw new IllegalArgumentException("bus '" + id + "' is listed twice");
            }
            final boolean sim = SIM.equals(id);
            final List<Client> clients = new ArrayList<>();
            for (int i = 1; i < parts.length; i++)
            {
                final Client c = client(parts[i].strip(), sim);
                if (!seenAddresses.add(c.address()))
                {
                    throw new IllegalArgumentException("address " + parts[i].strip() + " is listed twice");
                }
                clients.add(c);
            }
            buses.add(new Bus(id, List.copyOf(clients)));
        }
        return List.copyOf(buses);
    }

    private static Client client(final String text, final boolean sim)
    {
        final int eq = text.indexOf('=');
        final String addressText = eq < 0 ? text : text.substring(0, eq);
        final int address = address(addressText);
        if (!sim)
        {
            if (eq >= 0)
            {
                throw new IllegalArgumentException("'" + text + "': only the simulated bus 'sim' takes ADDR=KIND");
            }
            return new Client(address, "", 0);
        }
        if (eq < 0)
        {
            throw new IllegalArgumentException("'" + text + "' on the simulated bus needs its client: ADDR=eeprom or"
                + " ADDR=lm75[/CELSIUS]");
        }
        final String kind = text.substring(eq + 1);
        if ("eeprom".equals(kind))
        {
            return new Client(address, "eeprom", 0);
        }
        if (kind.equals("lm75") || kind.startsWith("lm75/"))
        {
            double celsius = 25;
            if (kind.length() > 5)
            {
                try
                {
                    celsius = Double.parseDouble(kind.substring(5));
                }
                catch (final NumberFormatException e)
                {
                    throw new IllegalArgumentException("'" + text + "': the temperature must be a number", e);
                }
            }
            if (!(celsius >= -55 && celsius <= 125))
            {
                throw new IllegalArgumentException("'" + text + "': an LM75 reports -55..125 °C");
            }
            return new Client(address, "lm75", celsius);
        }
        throw new IllegalArgumentException("'" + text + "': unknown simulated client '" + kind
            + "' (eeprom, lm75[/CELSIUS])");
    }

    private static int address(final String text)
    {
        final int value;
        try
        {
            value = text.startsWith("0x") || text.startsWith("0X") ? Integer.parseInt(text.substring(2), 16)
                : Integer.parseInt(text);
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("'" + text + "' is not an I2C address (decimal or 0x hex)", e);
        }
        if (value < 0 || value > 127)
        {
            throw new IllegalArgumentException("I2C addresses are 0..127, got " + text);
        }
        return value;
    }

    /**
     * Opens every bus of {@code buses} (host adapters through {@link LinuxI2cAdapter}) into one {@link I2cBus}.
     */
    public static I2cBus open(final List<Bus> buses) throws IOException
    {
        final I2cBus bus = new I2cBus();
        try
        {
            for (final Bus b : buses)
            {
                final int[] addresses = b.clients().stream().mapToInt(Client::address).toArray();
                if (b.simulated())
                {
                    final SimulatedAdapter sim = new SimulatedAdapter();
                    for (final Client c : b.clients())
                    {
                        sim.attach(c.address(), "eeprom".equals(c.kind()) ? new SimulatedEeprom()
                            : new SimulatedLm75(c.celsius()));
                    }
                    bus.add(sim, addresses);
                }
                else
                {
                    bus.add(LinuxI2cAdapter.open(b.identifier(), addresses), addresses);
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            bus.close();
            throw e;
        }
        return bus;
    }
}
