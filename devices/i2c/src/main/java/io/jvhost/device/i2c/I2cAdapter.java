package io.jvhost.device.i2c;

/**
 * A host I2C bus the guest's messages go to: a Linux {@code /dev/i2c-N} adapter or a simulated one. Adapters may be
 * shared by several devices (one per socket, as vhost-device-i2c shares its adapters), so {@link #transfer} is called
 * under the adapter's own lock by {@link I2cBus}.
 */
public interface I2cAdapter extends AutoCloseable
{
    /**
     * Executes {@code transfer} (every message addresses a client this adapter was given).
     *
     * @return true when every message was acknowledged; false when the transfer failed (a NACK, a bus error, a
     *     transfer the adapter cannot express), with read buffers then undefined.
     */
    boolean transfer(I2cTransfer transfer);

    /**
     * @return a short description for logs, e.g. {@code /dev/i2c-1 (I2C)} or {@code simulated bus}.
     */
    String describe();

    @Override
    default void close()
    {
    }
}
