package io.jvhost.device.scmi;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import io.jvhost.device.LogThrottle;
import io.jvhost.os.Errno;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * vhost-device-scmi's {@code iio} device: one channel of a Linux Industrial I/O device read from its sysfs folder
 * ({@code /sys/bus/iio/devices/iio:deviceN}). The channel prefix (e.g. {@code in_accel}, {@code in_temp}) selects the
 * files: {@code <channel>_raw} makes a scalar sensor, {@code <channel>_x_raw}, {@code <channel>_y_raw}, ... (one
 * character between the underscores) one axis each, sorted by name. The unit and its exponent come from the IIO ABI
 * (e.g. {@code in_temp} is millidegrees Celsius: °C × 10^-3). Each axis's {@code scale} and {@code offset} are looked
 * up as {@code <axis>_scale}, {@code <folder>/scale}, then {@code <channel>_scale} (likewise offset), as
 * vhost-device-scmi does, and read once when the device starts; a reading is
 * {@code round((raw + offset) × scale / 10^e)}, where {@code e = floor(log10(scale))} joins the unit's exponent so
 * that the integer keeps the scale's precision. The name is the {@code name} property, else the folder's {@code name}
 * file (cut to 15 characters), else {@code iio}.
 * <p>
 * The {@code _raw} files stay open; a reading is one {@code pread} of each at offset 0 into a native buffer (a downcall
 * without errno capture, which could allocate), parsed in place, so it allocates nothing. A file that cannot be read or does not hold an integer fails the reading (logged).
 */
public final class IioSensor extends ScmiSensor
{
    public static final String DEFAULT_NAME = "iio";

    private static final System.Logger LOG = System.getLogger(IioSensor.class.getName());
    private static final int O_RDONLY_CLOEXEC = 0x80000;
    private static final int BUFFER = 64;

    /** IIO channel prefix, SCMI unit, decimal exponent that turns the IIO unit into the SCMI one. */
    private record UnitMapping(String channel, int unit, int exponent)
    {
    }

    private static final List<UnitMapping> UNITS = List.of(
        new UnitMapping("in_accel", UNIT_METERS_PER_SECOND_SQUARED, 0),
        new UnitMapping("in_angl", UNIT_RADIANS, 0),
        new UnitMapping("in_anglvel", UNIT_RADIANS_PER_SECOND, 0),
        new UnitMapping("in_concentration", UNIT_PERCENTAGE, 0),
        new UnitMapping("in_current", UNIT_AMPS, -3),
        new UnitMapping("in_capacitance", UNIT_FARADS, -9),
        new UnitMapping("in_distance", UNIT_METERS, 0),
        new UnitMapping("in_electricalconductivity", UNIT_SIEMENS, 0),
        new UnitMapping("in_energy", UNIT_JOULES, 0),
        new UnitMapping("in_gravity", UNIT_METERS_PER_SECOND_SQUARED, 0),
        new UnitMapping("in_humidityrelative", UNIT_PERCENTAGE, -3),
        new UnitMapping("in_illuminance", UNIT_LUX, 0),
        new UnitMapping("in_magn", UNIT_GAUSS, 0),
        new UnitMapping("in_ph", UNIT_UNSPECIFIED, -3),
        new UnitMapping("in_positionrelative", UNIT_PERCENTAGE, -3),
        new UnitMapping("in_power", UNIT_WATTS, -3),
        new UnitMapping("in_pressure", UNIT_PASCALS, 3),
        new UnitMapping("in_proximity", UNIT_METERS, 0),
        new UnitMapping("in_resistance", UNIT_OHMS, 0),
        new UnitMapping("in_temp", UNIT_DEGREES_C, -3),
        new UnitMapping("in_velocity_sqrt(x^2+y^2+z^2)", UNIT_METERS_PER_SECOND, -3),
        new UnitMapping("in_voltage", UNIT_VOLTS, -3));

    private final Path folder;
    private final String channel;
    private final Path[] rawFiles;
    private final int[] fds;
    private final long[] offsets;
    private final double[] factors;
    private final MemorySegment buffer = Arena.ofAuto().allocate(BUFFER);
    private long failures;

    private IioSensor(final String name, final int unit, final int[] exponents, final String[] axisNames,
        final Path folder, final String channel, final Path[] rawFiles, final long[] offsets, final double[] factors)
    {
        super(name, unit, exponents, axisNames);
        this.folder = folder;
        this.channel = channel;
        this.rawFiles = rawFiles;
        this.offsets = offsets;
        this.factors = factors;
        this.fds = new int[rawFiles.length];
        Arrays.fill(fds, -1);
    }

    /**
     * Finds channel {@code channel} in the IIO sysfs folder {@code folder} and opens its value files.
     *
     * @param name the sensor's name, or null for the folder's {@code name} file.
     * @throws IOException              when the folder cannot be listed, has no such channel, or a file cannot be
     *                                  read or opened.
     * @throws IllegalArgumentException when a name is too long or a scale is not a positive number.
     */
    public static IioSensor open(final Path folder, final String channel, final String name) throws IOException
    {
        final List<String> axisFiles = new ArrayList<>();
        boolean scalar = false;
        try (Stream<Path> files = Files.list(folder))
        {
            for (final Path p : (Iterable<Path>)files::iterator)
            {
                final String f = p.getFileName().toString();
                if (!f.startsWith(channel) || !f.endsWith("_raw") || f.length() < channel.length() + 4)
                {
                    continue;
                }
                final String infix = f.substring(channel.length(), f.length() - 4);
                if (infix.isEmpty())
                {
                    scalar = true;
                    axisFiles.add(f);
                }
                else if (infix.length() == 2 && infix.charAt(0) == '_')
                {
                    axisFiles.add(f);
                }
            }
        }
        catch (final NoSuchFileException e)
        {
            throw new IOException("IIO device folder " + folder + " does not exist (ENOENT)", e);
        }
        if (axisFiles.isEmpty())
        {
            throw new IOException("no " + channel + " channel (" + channel + "_raw or " + channel + "_<axis>_raw) in "
                + folder);
        }
        if (scalar && axisFiles.size() > 1)
        {
            // Both forms: the channel's own value makes it a scalar sensor.
            axisFiles.removeIf(f -> !f.equals(channel + "_raw"));
        }
        axisFiles.sort(null);
        final UnitMapping mapping = UNITS.stream().filter(u -> u.channel().equals(channel)).findFirst()
            .orElse(new UnitMapping(channel, UNIT_UNSPECIFIED, 0));
        final int n = axisFiles.size();
        final Path[] raw = new Path[n];
        final long[] offsets = new long[n];
        final double[] factors = new double[n];
        final int[] exponents = new int[n];
        final String[] axisNames = new String[scalar ? 0 : n];
        final String prefix = axisPrefix(channel);
        for (int i = 0; i < n; i++)
        {
            raw[i] = folder.resolve(axisFiles.get(i));
            final String axis = axisFiles.get(i).substring(0, axisFiles.get(i).length() - 4);
            final String scale = axisValue(folder, channel, axis, "scale");
            final String offset = axisValue(folder, channel, axis, "offset");
            int custom = 0;
            double factor = 1;
            if (null != scale)
            {
                final double s;
                try
                {
                    s = Double.parseDouble(scale);
                }
                catch (final NumberFormatException e)
                {
                    throw new IllegalArgumentException("the scale of " + axis + " in " + folder + " is '" + scale
                        + "', not a number");
                }
                if (!(s > 0) || Double.isInfinite(s))
                {
                    throw new IllegalArgumentException("the scale of " + axis + " in " + folder + " is " + scale
                        + "; it must be a positive number");
                }
                custom = (int)Math.floor(Math.log10(s));
                custom = Math.max(-16 - mapping.exponent(), Math.min(15 - mapping.exponent(), custom));
                factor = s / Math.pow(10, custom);
            }
            if (null != offset)
            {
                try
                {
                    offsets[i] = Long.parseLong(offset);
                }
                catch (final NumberFormatException e)
                {
                    throw new IllegalArgumentException("the offset of " + axis + " in " + folder + " is '" + offset
                        + "', not an integer");
                }
            }
            factors[i] = factor;
            exponents[i] = mapping.exponent() + custom;
            if (!scalar)
            {
                final char suffix = Character.toUpperCase(axis.charAt(axis.length() - 1));
                axisNames[i] = prefix + "_" + suffix;
            }
        }
        final String sensorName = null != name ? name : folderName(folder);
        final IioSensor sensor = new IioSensor(sensorName, mapping.unit(), exponents, axisNames, folder, channel, raw,
            offsets, factors);
        try
        {
            for (int i = 0; i < n; i++)
            {
                sensor.fds[i] = LibC.open(raw[i].toString(), O_RDONLY_CLOEXEC);
            }
        }
        catch (final NativeException e)
        {
            sensor.close();
            throw new IOException("cannot open " + e.getMessage(), e);
        }
        return sensor;
    }

    /**
     * @return the channel without its {@code in_}/{@code out_} direction, cut to fit an axis name ({@code _X} after
     *         it).
     */
    private static String axisPrefix(final String channel)
    {
        String p = channel.startsWith("in_") ? channel.substring(3)
            : channel.startsWith("out_") ? channel.substring(4) : channel;
        p = p.replaceAll("[^\\x20-\\x7e]", "?");
        return p.length() > MAX_NAME_LENGTH - 2 ? p.substring(0, MAX_NAME_LENGTH - 2) : p;
    }

    private static String folderName(final Path folder) throws IOException
    {
        try
        {
            String n = Files.readString(folder.resolve("name")).strip().replaceAll("[^\\x20-\\x7e]", "?");
            if (n.isEmpty())
            {
                return DEFAULT_NAME;
            }
            return n.length() > MAX_NAME_LENGTH ? n.substring(0, MAX_NAME_LENGTH) : n;
        }
        catch (final NoSuchFileException e)
        {
            return DEFAULT_NAME;
        }
    }

    /**
     * @return the content of {@code <axis>_<what>}, {@code <folder>/<what>} or {@code <channel>_<what>}, stripped;
     *         null when none exists.
     */
    private static String axisValue(final Path folder, final String channel, final String axis, final String what)
        throws IOException
    {
        for (final Path p : new Path[] {folder.resolve(axis + "_" + what), folder.resolve(what),
            folder.resolve(channel + "_" + what)})
        {
            try
            {
                return Files.readString(p).strip();
            }
            catch (final NoSuchFileException e)
            {
                // the next place
            }
        }
        return null;
    }

    public Path folder()
    {
        return folder;
    }

    public String channel()
    {
        return channel;
    }

    @Override
    public boolean read(final long[] values)
    {
        for (int i = 0; i < fds.length; i++)
        {
            final long n = LibC.preadNoErrno(fds[i], buffer.address(), BUFFER, 0);
            if (n <= 0)
            {
                // The slow path: read again for errno (a file that failed once may read now; it still failed).
                final long again = n < 0 ? LibC.preadRaw(fds[i], buffer.address(), BUFFER, 0) : 0;
                return failed(i, n < 0 ? "pread failed: " + (again < 0 ? Errno.name((int)-again) : "(then read)")
                    : "it is empty");
            }
            final long raw = parse((int)n);
            if (raw == Long.MIN_VALUE)
            {
                return failed(i, "it does not hold an integer");
            }
            values[i] = Math.round((raw + offsets[i]) * factors[i]);
        }
        return true;
    }

    /**
     * @return the decimal integer (optional sign, trailing white space) in the buffer's first {@code n} bytes, or
     *         {@link Long#MIN_VALUE} when it holds none.
     */
    private long parse(final int n)
    {
        int i = 0;
        boolean negative = false;
        final int first = buffer.get(ValueLayout.JAVA_BYTE, 0);
        if (first == '-' || first == '+')
        {
            negative = first == '-';
            i++;
        }
        long v = 0;
        int digits = 0;
        for (; i < n; i++)
        {
            final int c = buffer.get(ValueLayout.JAVA_BYTE, i);
            if (c < '0' || c > '9')
            {
                break;
            }
            if (++digits > 18)
            {
                return Long.MIN_VALUE;
            }
            v = v * 10 + (c - '0');
        }
        for (; i < n; i++)
        {
            final int c = buffer.get(ValueLayout.JAVA_BYTE, i);
            if (c != '\n' && c != ' ' && c != '\t' && c != 0)
            {
                return Long.MIN_VALUE;
            }
        }
        return digits == 0 ? Long.MIN_VALUE : negative ? -v : v;
    }

    private boolean failed(final int axis, final String why)
    {
        if (LogThrottle.due(++failures))
        {
            LOG.log(System.Logger.Level.WARNING, "iio sensor " + name() + ": cannot read " + rawFiles[axis] + ": "
                + why + " (" + failures + " failed readings so far)");
        }
        return false;
    }

    @Override
    public void close()
    {
        for (int i = 0; i < fds.length; i++)
        {
            if (fds[i] >= 0)
            {
                LibC.closeQuietly(fds[i]);
                fds[i] = -1;
            }
        }
    }
}
