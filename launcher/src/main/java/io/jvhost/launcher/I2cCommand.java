package io.jvhost.launcher;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.i2c.DeviceList;
import io.jvhost.device.i2c.I2cAdapter;
import io.jvhost.device.i2c.I2cBus;
import io.jvhost.device.i2c.I2cDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost i2c}: virtio-i2c, flag-compatible with rust-vmm's vhost-device-i2c, plus simulated clients.
 */
@Command(name = "i2c", mixinStandardHelpOptions = true,
    description = {"virtio-i2c back-end: the guest's I2C messages go to host adapters (/dev/i2c-N, through i2c-dev"
        + " ioctls) or to simulated clients. Flag-compatible with vhost-device-i2c; sockets are PATH0..PATH<N-1>, and"
        + " every socket's guest shares the same adapters.",
        "QEMU: -chardev socket,id=i2c0,path=PATH0 -device vhost-user-i2c-pci,chardev=i2c0"})
final class I2cCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-l", "--device-list"}, paramLabel = "LIST",
        description = {"BUS:ADDR[:ADDR...][,BUS:ADDR...]: the clients the guest may reach. BUS is an adapter number"
            + " (/dev/i2c-N), an adapter name (/sys/bus/i2c/devices/i2c-N/name) or 'sim', the simulated bus. ADDR is"
            + " a 7-bit address, decimal or 0x hex; on 'sim' it names its client: ADDR=eeprom (a 256-byte 24C02) or"
            + " ADDR=lm75[/CELSIUS] (a temperature sensor, 25 by default).",
            "Example: 1:32:33,sim:0x50=eeprom:0x48=lm75/42.5"})
    private String deviceList;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "i2c", true, i -> null);
        }
        if (null == deviceList)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device-list is required");
        }
        final List<DeviceList.Bus> buses;
        try
        {
            buses = DeviceList.parse(deviceList);
        }
        catch (final IllegalArgumentException e)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device-list: " + e.getMessage());
        }
        final I2cBus bus;
        try
        {
            bus = DeviceList.open(buses);
        }
        catch (final IOException e)
        {
            System.err.println("jvhost i2c: " + e.getMessage());
            return 1;
        }
        for (final I2cAdapter a : bus.adapters())
        {
            System.getLogger(I2cCommand.class.getName()).log(System.Logger.Level.INFO, "i2c: " + a.describe());
        }
        try
        {
            return DeviceRunner.run(spec, daemon, "i2c", true, i -> new I2cDevice("i2c" + i, bus));
        }
        finally
        {
            bus.close();
        }
    }
}
