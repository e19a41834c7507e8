package io.jvhost.device.i2c;

import java.util.ArrayList;
import java.util.List;

/**
 * The guest's view of the host's I2C: which adapter serves each 7-bit client address (vhost-device-i2c's I2cMap).
 * Only the addresses listed are reachable: a message to any other is not acknowledged. Shared by every socket's
 * device; a transfer holds its adapter's lock.
 */
public final class I2cBus implements AutoCloseable
{
    private final I2cAdapter[] byAddress = new I2cAdapter[128];
    private final List<I2cAdapter> adapters = new ArrayList<>();

    /**
     * Routes {@code addresses} to {@code adapter}.
     *
     * @throws IllegalArgumentException if an address is outside 0..127 or already routed.
     */
    public I2cBus add(final I2cAdapter adapter, final int... addresses)
    {
        for (final int a : addresses)
        {
            if (a < 0 || a > 127)
            {
                throw new IllegalArgumentException("I2C addresses are 0..127, got " + a);
            }
            if (null != byAddress[a])
            {
                throw new IllegalArgumentException("address 0x" + Integer.toHexString(a) + " is listed twice");
            }
        }
        for (final int a : addresses)
        {
            byAddress[a] = adapter;
        }
        adapters.add(adapter);
        return this;
    }

    /**
     * @return the adapter serving {@code address}, or null.
     */
    public I2cAdapter adapter(final int address)
    {
        return address >= 0 && address < 128 ? byAddress[address] : null;
    }

    public List<I2cAdapter> adapters()
    {
        return List.copyOf(adapters);
    }

    /**
     * Executes {@code transfer} on the adapter of its first message's address.
     *
     * @return false when a message's address is not routed, or routed to another adapter, or the adapter fails it.
     */
    public boolean transfer(final I2cTransfer transfer)
    {
        if (transfer.count() == 0)
        {
            return true;
        }
        final I2cAdapter adapter = adapter(transfer.address(0));
        if (null == adapter)
        {
            return false;
        }
        for (int i = 1; i < transfer.count(); i++)
        {
            if (adapter(transfer.address(i)) != adapter)
            {
                return false;
            }
        }
        synchronized (adapter)
        {
            return adapter.transfer(transfer);
        }
    }

    @Override
    public void close()
    {
        adapters.forEach(I2cAdapter::close);
    }
}
