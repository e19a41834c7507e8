package io.jvhost.launcher;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

import io.jvhost.device.gpio.GpioChip;
import io.jvhost.device.gpio.GpioDevice;
import io.jvhost.device.gpio.LinuxGpioChip;
import io.jvhost.device.gpio.GpioControlServer;
import io.jvhost.device.gpio.SimulatedGpioChip;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost gpio}: virtio-gpio, flag-compatible with rust-vmm's vhost-device-gpio (its {@code sN} mock chips
 * included, always built in).
 */
@Command(name = "gpio", mixinStandardHelpOptions = true,
    description = {"virtio-gpio back-end: one GPIO chip per socket, a host /dev/gpiochipN (GPIO character device v2"
        + " ioctls) or a simulated chip. Flag-compatible with vhost-device-gpio; sockets are PATH0..PATH<N-1>.",
        "QEMU: -chardev socket,id=gpio0,path=PATH0 -device vhost-user-gpio-pci,chardev=gpio0"})
final class GpioCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-l", "--device-list"}, paramLabel = "LIST",
        description = {"CHIP[:CHIP...], one per socket (as many as --socket-count): N is /dev/gpiochipN, sN a"
            + " simulated chip of N lines (1..1024) named sim0..sim<N-1>, all inputs at 0 until the control socket"
            + " drives them.", "Example: -c 2 -l 0:s8"})
    private String deviceList;

    @Option(names = "--control-socket", paramLabel = "PATH",
        description = {"Also listen on PATH (PATH0..PATH<N-1> per socket) for lines driving the simulated chip:"
            + " 'set LINE 0|1' drives an input (edges trigger armed interrupts), 'get LINE' prints"
            + " 'LINE dir=none|out|in value=0|1 irq=TYPE'. Each is answered 'ok' or 'error ...'."})
    private java.nio.file.Path controlSocket;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "gpio", true, i -> null);
        }
        if (null == deviceList)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device-list is required");
        }
        final List<String> chips = List.of(deviceList.strip().split(":", -1));
        if (chips.size() != daemon.socketCount)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--device-list names " + chips.size()
                + " chip(s) but --socket-count is " + daemon.socketCount + "; give one chip per socket");
        }
        final Set<String> seen = new HashSet<>();
        final List<GpioChip> opened = new ArrayList<>();
        try
        {
            for (final String c : chips)
            {
                if (c.startsWith("s"))
                {
                    final int n = parse(c.substring(1), c);
                    opened.add(new SimulatedGpioChip(n));
                }
                else
                {
                    final int n = parse(c, c);
                    if (!seen.add(Integer.toString(n)))
                    {
                        throw new CommandLine.ParameterException(spec.commandLine(), "--device-list: chip " + n
                            + " is listed twice");
                    }
                    opened.add(LinuxGpioChip.open(n));
                }
            }
        }
        catch (final IllegalArgumentException e)
        {
            opened.forEach(GpioChip::close);
            throw new CommandLine.ParameterException(spec.commandLine(), "--device-list: " + e.getMessage());
        }
        catch (final IOException e)
        {
            opened.forEach(GpioChip::close);
            System.err.println("jvhost gpio: " + e.getMessage());
            return 1;
        }
        final List<GpioControlServer> controls = new ArrayList<>();
        try
        {
            if (null != controlSocket)
            {
                for (int i = 0; i < opened.size(); i++)
                {
                    if (opened.get(i) instanceof SimulatedGpioChip sim)
                    {
                        controls.add(GpioControlServer.listen("gpio" + i, controlSocket.resolveSibling(
                            controlSocket.getFileName() + Integer.toString(i)), sim));
                    }
                }
            }
            return DeviceRunner.run(spec, daemon, "gpio", true, i -> new GpioDevice("gpio" + i, opened.get(i)));
        }
        catch (final IOException e)
        {
            System.err.println("jvhost gpio: " + e.getMessage());
            return 1;
        }
        finally
        {
            controls.forEach(GpioControlServer::close);
            opened.forEach(GpioChip::close);
        }
    }

    private static int parse(final String number, final String entry)
    {
        try
        {
            return Integer.parseInt(number);
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("'" + entry + "' is neither a chip number nor sN", e);
        }
    }
}
