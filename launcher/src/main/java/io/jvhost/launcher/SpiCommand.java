package io.jvhost.launcher;

import java.io.IOException;
import java.util.concurrent.Callable;

import io.jvhost.device.spi.ControllerSpec;
import io.jvhost.device.spi.SpiController;
import io.jvhost.device.spi.SpiDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost spi}: virtio-spi, flag-compatible with rust-vmm's vhost-device-spi, plus simulated controllers.
 */
@Command(name = "spi", mixinStandardHelpOptions = true,
    description = {"virtio-spi back-end: the guest's SPI transfers go to a host spidev (/dev/spidevX.Y, through"
        + " spidev ioctls) or to a simulated controller. Flag-compatible with vhost-device-spi; sockets are"
        + " PATH0..PATH<N-1>, and every socket's guest shares the same controller.",
        "QEMU: -chardev socket,id=spi0,path=PATH0 -device vhost-user-spi-pci,chardev=spi0 (QEMU 11.1 and newer)"})
final class SpiCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-l", "--device"}, paramLabel = "DEVICE",
        description = {"The host SPI device: a spidev node (/dev/spidevX.Y, chip select 0 for the guest), or"
            + " 'sim:CHIP[:CHIP...]', a simulated controller with one chip per chip select (cs 0 first). CHIP is"
            + " 'loopback' (receives what it sends) or 'eeprom' (a 256-byte 25xx EEPROM: READ 0x03 and WRITE 0x02,"
            + " one address byte).", "Example: sim:loopback:eeprom"})
    private String device;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "spi", true, i -> null);
        }
        if (null == device)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device is required");
        }
        final SpiController controller;
        try
        {
            controller = ControllerSpec.open(device);
        }
        catch (final IllegalArgumentException e)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device: " + e.getMessage());
        }
        catch (final IOException e)
        {
            System.err.println("jvhost spi: " + e.getMessage());
            return 1;
        }
        System.getLogger(SpiCommand.class.getName()).log(System.Logger.Level.INFO, "spi: " + controller.describe());
        try
        {
            return DeviceRunner.run(spec, daemon, "spi", true, i -> new SpiDevice("spi" + i, controller));
        }
        finally
        {
            controller.close();
        }
    }
}
