package io.jvhost.launcher;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.jvhost.device.scmi.ScmiDevice;
import io.jvhost.device.scmi.ScmiSensor;
import io.jvhost.device.scmi.SensorSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jvhost scmi}: virtio-scmi, flag-compatible with rust-vmm's vhost-device-scmi.
 */
@Command(name = "scmi", mixinStandardHelpOptions = true,
    description = {"virtio-scmi back-end: an SCMI platform (BASE and SENSOR protocols) whose sensors are fake or"
        + " Linux IIO channels, flag-compatible with vhost-device-scmi. The guest needs an Arm device-tree node"
        + " (compatible \"arm,scmi-virtio\").",
        "QEMU (aarch64): -chardev socket,id=scmi0,path=PATH -device vhost-user-scmi-pci,chardev=scmi0"})
final class ScmiCommand implements Callable<Integer>
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private DaemonOptions daemon;

    @Option(names = {"-d", "--device"}, paramLabel = "SPEC",
        description = "A sensor, KIND,PROPERTY=VALUE,... (repeatable; sensor ids in the given order), e.g."
            + " fake,name=foo or iio,path=/sys/bus/iio/devices/iio:device0,channel=in_accel. See --help-devices.")
    private List<String> devices = new ArrayList<>();

    @Option(names = "--help-devices", description = "Print the device kinds and their properties and exit.")
    private boolean helpDevices;

    @Override
    public Integer call()
    {
        if (helpDevices)
        {
            spec.commandLine().getOut().print(SensorSpec.help());
            spec.commandLine().getOut().flush();
            return 0;
        }
        if (daemon.printCapabilities)
        {
            return DeviceRunner.run(spec, daemon, "scmi", false, i -> null);
        }
        // Fail before listening when a specification is wrong; each device then gets sensors of its own.
        for (final ScmiSensor s : sensors())
        {
            s.close();
        }
        return DeviceRunner.run(spec, daemon, "scmi", false, i -> new ScmiDevice("scmi" + i, sensorsOrThrow()));
    }

    private List<ScmiSensor> sensors()
    {
        final List<ScmiSensor> sensors = new ArrayList<>();
        for (final String d : devices)
        {
            try
            {
                sensors.add(SensorSpec.parse(d));
            }
            catch (final IllegalArgumentException | IOException e)
            {
                sensors.forEach(ScmiSensor::close);
                throw new CommandLine.ParameterException(spec.commandLine(), "-d " + d + ": " + e.getMessage());
            }
        }
        return sensors;
    }

    private List<ScmiSensor> sensorsOrThrow()
    {
        final List<ScmiSensor> sensors = new ArrayList<>();
        for (final String d : devices)
        {
            try
            {
                sensors.add(SensorSpec.parse(d));
            }
            catch (final IOException e)
            {
                sensors.forEach(ScmiSensor::close);
                throw new UncheckedIOException("-d " + d + ": " + e.getMessage(), e);
            }
        }
        return sensors;
    }
}
