package io.jvhost.device.spi;

/**
 * A device on a {@link SimulatedController}'s chip select. Every transfer is one chip-select frame: the chip is selected
 * for exactly the transfer's bytes (virtio-spi requests carry no message boundaries, see {@link SimulatedController}).
 */
public interface SimulatedChip
{
    /**
     * Clocks one frame: reads the first {@code transfer.length()} bytes of {@code transfer.tx()} (zeros for a
     * half-duplex read) and writes as many into {@code transfer.rx()}.
     */
    void frame(SpiTransfer transfer);

    /**
     * @return what the chip is, for logs: {@code loopback}, {@code eeprom}.
     */
    String kind();
}
