package io.jvhost.device.spi;

/**
 * A host SPI controller the guest's transfers go to: a Linux {@code /dev/spidevX.Y} or a simulated one. Shared by the
 * devices of every socket (as vhost-device-spi opens the same spidev for each), so {@link SpiDevice} calls
 * {@link #transfer} under the controller's own lock.
 */
public interface SpiController extends AutoCloseable
{
    /**
     * @return what the controller supports, reported to the driver and enforced on every transfer.
     */
    SpiConfig config();

    /**
     * Executes {@code transfer}, whose parameters the device has checked against {@link #config()}: sends its tx
     * bytes and fills its rx bytes.
     *
     * @return true when the transfer ran; false when it failed (the device answers TRANS_ERR, rx undefined).
     */
    boolean transfer(SpiTransfer transfer);

    /**
     * @return a short description for logs, e.g. {@code /dev/spidev0.0} or {@code simulated (cs0 loopback)}.
     */
    String describe();

    @Override
    default void close()
    {
    }
}
