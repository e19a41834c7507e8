package io.jvhost.device.scmi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * vhost-device-scmi's {@code -d/--device} specification, {@code KIND,PROPERTY=VALUE,...}: {@code fake[,name=N]} or
 * {@code iio,path=/sys/bus/iio/devices/iio:deviceN,channel=in_accel[,name=N]}, and jvhost's {@code kind} property of
 * {@code fake}. A missing or unknown property, a repeated one, a name of more than 15 characters or an unknown kind is
 * an error naming it.
 */
public final class SensorSpec
{
    private SensorSpec()
    {
    }

    /**
     * The text of {@code --help-devices}: the device kinds and their properties.
     */
    public static String help()
    {
        return """
            Available devices:

            - fake: fake accelerometer
              A simple 3-axes sensor providing fake pre-defined values (acc_X, acc_Y, acc_Z read v, v+100, v+200; v
              goes up by one at each reading).
              Parameters:
              - name: an optional name of the sensor, max. 15 characters (default: fake)
              - kind: accelerometer (the default) or thermometer: a scalar sensor in degrees Celsius reading v, which
                Linux's scmi-hwmon shows as temp<N>_input (jvhost only)

            - iio: industrial I/O sensor
              One channel of a Linux IIO device, read from its sysfs folder.
              Parameters:
              - path: path to the device directory (e.g. /sys/bus/iio/devices/iio:device0)
              - channel: prefix of the device type (e.g. in_accel)
              - name: an optional name of the sensor, max. 15 characters (default: the device's name file, else iio)

            Device specification example:
            --device iio,path=/sys/bus/iio/devices/iio:device0,channel=in_accel
            """;
    }

    /**
     * Makes the sensor {@code spec} describes (an {@code iio} one opens its files).
     *
     * @throws IllegalArgumentException when the specification is not valid.
     * @throws IOException              when an iio device cannot be read.
     */
    public static ScmiSensor parse(final String spec) throws IOException
    {
        final String[] parts = spec.split(",", -1);
        final String kind = parts[0].strip();
        final Map<String, String> properties = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++)
        {
            final int eq = parts[i].indexOf('=');
            if (eq <= 0)
            {
                throw new IllegalArgumentException("device '" + spec + "': property '" + parts[i]
                    + "' is not NAME=VALUE");
            }
            final String key = parts[i].substring(0, eq);
            if (null != properties.put(key, parts[i].substring(eq + 1)))
            {
                throw new IllegalArgumentException("device '" + spec + "': property '" + key + "' is given twice");
            }
        }
        return switch (kind)
        {
            case "fake" ->
            {
                check(spec, properties, Set.of(), Set.of("name", "kind"));
                final String k = properties.getOrDefault("kind", "accelerometer");
                final FakeSensor.Kind fakeKind = switch (k.toLowerCase(Locale.ROOT))
                {
                    case "accelerometer" -> FakeSensor.Kind.ACCELEROMETER;
                    case "thermometer" -> FakeSensor.Kind.THERMOMETER;
                    default -> throw new IllegalArgumentException("device '" + spec + "': kind '" + k
                        + "' is neither accelerometer nor thermometer");
                };
                yield new FakeSensor(name(spec, properties, FakeSensor.DEFAULT_NAME), fakeKind);
            }
            case "iio" ->
            {
                check(spec, properties, Set.of("path", "channel"), Set.of("name"));
                final String name = properties.containsKey("name") ? name(spec, properties, null) : null;
                yield IioSensor.open(Path.of(properties.get("path")), properties.get("channel"), name);
            }
            default -> throw new IllegalArgumentException("device '" + spec + "': unknown device kind '" + kind
                + "'; the kinds are fake and iio (see --help-devices)");
        };
    }

    private static String name(final String spec, final Map<String, String> properties, final String fallback)
    {
        final String name = properties.getOrDefault("name", fallback);
        try
        {
            ScmiSensor.string16("name", name);
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException("device '" + spec + "': " + e.getMessage());
        }
        return name;
    }

    private static void check(final String spec, final Map<String, String> properties, final Set<String> required,
        final Set<String> optional)
    {
        final Set<String> missing = new TreeSet<>(required);
        missing.removeAll(properties.keySet());
        if (!missing.isEmpty())
        {
            throw new IllegalArgumentException("device '" + spec + "': missing device parameters: "
                + String.join(", ", missing));
        }
        final Set<String> extra = new TreeSet<>(properties.keySet());
        extra.removeAll(required);
        extra.removeAll(optional);
        if (!extra.isEmpty())
        {
            throw new IllegalArgumentException("device '" + spec + "': unexpected device parameters: "
                + String.join(", ", extra));
        }
    }
}
