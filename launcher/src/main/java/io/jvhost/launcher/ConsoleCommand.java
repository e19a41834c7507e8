package io.jvhost.launcher;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.console.ConsoleBackend;
import io.jvhost.device.console.ConsoleDevice;
import io.jvhost.device.console.NestedBackend;
import io.jvhost.device.console.NetworkBackend;
import io.jvhost.os.NativeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost console}: virtio-console, flag-compatible with rust-vmm's vhost-device-console.
 */
@Command(name = "console", mixinStandardHelpOptions = true,
    description = {"virtio-console back-end (multiport, one console port), flag-compatible with vhost-device-console.",
        "Sockets are PATH0..PATH<N-1>, as vhost-device-console names them.",
        "QEMU 11.1: -chardev socket,id=con0,path=PATH0"
            + " -device vhost-user-test-device-pci,chardev=con0,virtio-id=3,num_vqs=4,config_size=12"})
final class ConsoleCommand implements Callable<Integer>
{
    /** --backend values, named as vhost-device-console's. */
    enum Backend
    {
        nested, network
    }

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-b", "--backend"}, paramLabel = "nested|network", defaultValue = "nested",
        description = "nested: this terminal (raw mode; Ctrl-C stops jvhost; one socket only). network: a TCP"
            + " listener on 127.0.0.1:PORT+i for socket i, one client at a time. Default: ${DEFAULT-VALUE}.")
    private Backend backend;

    @Option(names = {"-p", "--tcp-port"}, paramLabel = "PORT", defaultValue = "12345",
        description = "First TCP port of the network back-end (socket i listens on PORT+i; 0: ports the kernel"
            + " picks, logged). Default: ${DEFAULT-VALUE}.")
    private long tcpPort;

    @Option(names = {"-q", "--max-queue-size"}, paramLabel = "N", defaultValue = "" + ConsoleDevice.DEFAULT_QUEUE_SIZE,
        description = "Largest virtqueue the driver may use (a power of two, 1..32768). Default: ${DEFAULT-VALUE}.")
    private int maxQueueSize;

    @Override
    public Integer call()
    {
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "console", true, i -> null);
        }
        if (backend == Backend.nested && daemon.socketCount != 1)
        {
            // vhost-device-console's own words.
            throw new CommandLine.ParameterException(spec.commandLine(),
                "Error using multiple sockets with Nested backend");
        }
        if (maxQueueSize < 1 || maxQueueSize > 32768 || Integer.bitCount(maxQueueSize) != 1)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--max-queue-size must be a power of two in 1..32768, got " + maxQueueSize);
        }
        final int sockets = Math.max(1, daemon.socketCount);
        if (tcpPort < 0 || tcpPort != 0 && tcpPort + sockets - 1 > 0xFFFF)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tcp-port " + tcpPort + " with "
                + sockets + " socket(s) needs ports up to " + (tcpPort + sockets - 1) + "; TCP ports end at 65535");
        }
        if (daemon.socketCount < 1 || (null == daemon.socketPath) == (null == daemon.fd))
        {
            // DeviceRunner says what is wrong, before any back-end is opened.
            return DeviceRunner.run(spec, daemon, "console", true, i -> null);
        }
        final List<ConsoleBackend> backends = new ArrayList<>();
        try
        {
            for (int i = 0; i < sockets; i++)
            {
                backends.add(backend == Backend.nested ? NestedBackend.open("console" + i)
                    : NetworkBackend.listen("console" + i, 0 == tcpPort ? 0 : (int)tcpPort + i));
            }
        }
        catch (final NativeException | RuntimeException e)
        {
            backends.forEach(ConsoleBackend::close);
            System.err.println("jvhost console: " + e.getMessage());
            return 1;
        }
        final List<ConsoleDevice> devices = new ArrayList<>();
        try
        {
            return DeviceRunner.run(spec, daemon, "console", true, i ->
            {
                final ConsoleDevice device = new ConsoleDevice("console" + i, backends.get(i), maxQueueSize);
                devices.add(device);
                return device;
            });
        }
        finally
        {
            // Closes the listeners and gives the terminal its settings back.
            devices.forEach(ConsoleDevice::close);
            backends.forEach(ConsoleBackend::close);
        }
    }
}
