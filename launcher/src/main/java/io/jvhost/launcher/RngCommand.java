package io.jvhost.launcher;

import java.io.IOException;
import java.util.concurrent.Callable;

import io.jvhost.device.rng.EntropySource;
import io.jvhost.device.rng.RngDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost rng}: virtio-rng, flag-compatible with rust-vmm's vhost-device-rng.
 */
@Command(name = "rng", mixinStandardHelpOptions = true,
    description = {"virtio-rng (entropy) back-end, flag-compatible with vhost-device-rng.",
        "Sockets are PATH0..PATH<N-1>, as vhost-device-rng names them.",
        "QEMU: -chardev socket,id=rng0,path=PATH0 -device vhost-user-rng-pci,chardev=rng0"})
final class RngCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-p", "--period"}, paramLabel = "MS", defaultValue = "65536",
        description = "Time in ms in which at most --max-bytes are served (1..65536). Default: ${DEFAULT-VALUE}.")
    private long period;

    @Option(names = {"-m", "--max-bytes"}, paramLabel = "BYTES",
        description = "Bytes allowed per period, shared among the sockets. Default: no limit.")
    private Long maxBytes;

    @Option(names = {"-f", "--rng-source"}, paramLabel = "PATH", defaultValue = "/dev/urandom",
        description = "Where random bytes come from. Default: ${DEFAULT-VALUE}.")
    private String rngSource;

    @Override
    public Integer call()
    {
        if (period < 1 || period > RngDevice.MAX_PERIOD_MS)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--period must be 1.." + RngDevice.MAX_PERIOD_MS + " ms, got " + period);
        }
        if (null != maxBytes && maxBytes < 0)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-bytes must not be negative");
        }
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "rng", true, i -> null);
        }
        final EntropySource source;
        try
        {
            source = EntropySource.open(rngSource);
        }
        catch (final IOException e)
        {
            System.err.println("jvhost rng: " + e.getMessage());
            return 1;
        }
        final int sockets = Math.max(1, daemon.socketCount);
        final long perSocket = null == maxBytes ? Long.MAX_VALUE : maxBytes / sockets;
        return DeviceRunner.run(spec, daemon, "rng", true, i -> new RngDevice("rng" + i, source, period, perSocket));
    }
}
