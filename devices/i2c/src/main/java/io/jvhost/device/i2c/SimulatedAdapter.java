package io.jvhost.device.i2c;

/**
 * A simulated I2C bus: up to 128 {@link SimulatedClient}s at 7-bit addresses; a message to an address with no client
 * is not acknowledged (so {@code i2cdetect} finds exactly the clients), and the transfer stops there.
 */
public final class SimulatedAdapter implements I2cAdapter
{
    private final SimulatedClient[] clients = new SimulatedClient[128];

    /**
     * @throws IllegalArgumentException if {@code address} is outside 0..127 or taken.
     */
    public SimulatedAdapter attach(final int address, final SimulatedClient client)
    {
        if (address < 0 || address > 127)
        {
            throw new IllegalArgumentException("I2C addresses are 0..127, got " + address);
        }
        if (null != clients[address])
        {
            throw new IllegalArgumentException("address 0x" + Integer.toHexString(address) + " has a "
                + clients[address].kind() + " already");
        }
        clients[address] = client;
        return this;
    }

    /**
     * @return the client at {@code address}, or null.
     */
    public SimulatedClient client(final int address)
    {
        return clients[address];
    }

    @Override
    public boolean transfer(final I2cTransfer transfer)
    {
        for (int i = 0; i < transfer.count(); i++)
        {
            final SimulatedClient c = clients[transfer.address(i) & 0x7F];
            if (null == c)
            {
                return false;
            }
            final boolean acked = transfer.isRead(i)
                ? c.read(transfer.staging(), transfer.offset(i), transfer.length(i))
                : c.write(transfer.staging(), transfer.offset(i), transfer.length(i));
            if (!acked)
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public String describe()
    {
        final StringBuilder sb = new StringBuilder("simulated bus (");
        String sep = "";
        for (int a = 0; a < clients.length; a++)
        {
            if (null != clients[a])
            {
                sb.append(sep).append(clients[a].kind()).append(" at 0x").append(Integer.toHexString(a));
                sep = ", ";
            }
        }
        return sb.append(')').toString();
    }
}
