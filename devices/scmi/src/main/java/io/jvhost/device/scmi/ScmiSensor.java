package io.jvhost.device.scmi;

import java.nio.charset.StandardCharsets;

/**
 * One sensor of the SCMI SENSOR protocol: its name, unit and axes as SENSOR_DESCRIPTION_GET and
 * SENSOR_AXIS_DESCRIPTION_GET describe them, its enabled state (SENSOR_CONFIG_GET/SET bit 0) and its readings.
 * A scalar sensor has no axes and one value; a multi-axis sensor (at most 63 axes) one value per axis. A value is
 * {@code raw × 10^exponent} of the unit.
 */
public abstract class ScmiSensor
{
    /** SCMI unit codes (DEN0056, the sensor type table) this device uses. */
    public static final int UNIT_NONE = 0;
    public static final int UNIT_UNSPECIFIED = 1;
    public static final int UNIT_DEGREES_C = 2;
    public static final int UNIT_VOLTS = 5;
    public static final int UNIT_AMPS = 6;
    public static final int UNIT_WATTS = 7;
    public static final int UNIT_JOULES = 8;
    public static final int UNIT_LUX = 13;
    public static final int UNIT_METERS = 31;
    public static final int UNIT_RADIANS = 36;
    public static final int UNIT_GAUSS = 45;
    public static final int UNIT_FARADS = 48;
    public static final int UNIT_OHMS = 49;
    public static final int UNIT_SIEMENS = 50;
    public static final int UNIT_PERCENTAGE = 65;
    public static final int UNIT_PASCALS = 66;
    public static final int UNIT_RADIANS_PER_SECOND = 87;
    public static final int UNIT_METERS_PER_SECOND_SQUARED = 89;
    public static final int UNIT_METERS_PER_SECOND = 90;

    /** SCMI short strings are 16 bytes with their NUL. */
    public static final int MAX_NAME_LENGTH = 15;
    public static final int MAX_AXES = 63;

    private final String name;
    private final byte[] name16;
    private final int unit;
    private final int[] exponents;
    private final byte[][] axisNames16;
    private boolean enabled = true;

    /**
     * @param name      at most 15 printable ASCII characters.
     * @param unit      an SCMI unit code.
     * @param exponents the decimal exponent of each axis (one entry for a scalar sensor), each in -16..15.
     * @param axisNames the axes' names (none: a scalar sensor), each at most 15 printable ASCII characters.
     */
    protected ScmiSensor(final String name, final int unit, final int[] exponents, final String[] axisNames)
    {
        if (axisNames.length > MAX_AXES)
        {
            throw new IllegalArgumentException("sensor " + name + " has " + axisNames.length + " axes, at most "
                + MAX_AXES);
        }
        if (exponents.length != Math.max(1, axisNames.length))
        {
            throw new IllegalArgumentException("sensor " + name + ": " + exponents.length + " exponents for "
                + axisNames.length + " axes");
        }
        for (final int e : exponents)
        {
            if (e < -16 || e > 15)
            {
                throw new IllegalArgumentException("sensor " + name + ": exponent " + e + " is outside -16..15");
            }
        }
        this.name = name;
        this.name16 = string16("sensor name", name);
        this.unit = unit;
        this.exponents = exponents.clone();
        this.axisNames16 = new byte[axisNames.length][];
        for (int i = 0; i < axisNames.length; i++)
        {
            axisNames16[i] = string16("axis name", axisNames[i]);
        }
    }

    /**
     * @return {@code s} as an SCMI short string: its ASCII bytes NUL-padded to 16.
     * @throws IllegalArgumentException when it is longer than 15 or not printable ASCII.
     */
    public static byte[] string16(final String what, final String s)
    {
        if (s.length() > MAX_NAME_LENGTH)
        {
            throw new IllegalArgumentException(what + " '" + s + "' has " + s.length() + " characters, at most "
                + MAX_NAME_LENGTH);
        }
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (c < 0x20 || c > 0x7E)
            {
                throw new IllegalArgumentException(what + " '" + s + "' has a character that is not printable ASCII"
                    + " (0x" + Integer.toHexString(c) + ")");
            }
        }
        final byte[] b = new byte[16];
        final byte[] ascii = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(ascii, 0, b, 0, ascii.length);
        return b;
    }

    public final String name()
    {
        return name;
    }

    final byte[] name16()
    {
        return name16;
    }

    /**
     * @return the number of axes; 0 for a scalar sensor.
     */
    public final int axes()
    {
        return axisNames16.length;
    }

    /**
     * @return the number of values a reading has: the axes, or 1.
     */
    public final int values()
    {
        return Math.max(1, axisNames16.length);
    }

    public final int unit()
    {
        return unit;
    }

    /**
     * @return the decimal exponent of axis {@code axis} (0 for a scalar sensor).
     */
    public final int exponent(final int axis)
    {
        return exponents[axis];
    }

    final byte[] axisName16(final int axis)
    {
        return axisNames16[axis];
    }

    public final boolean enabled()
    {
        return enabled;
    }

    final void enabled(final boolean enabled)
    {
        this.enabled = enabled;
    }

    /**
     * Reads the sensor: {@link #values()} values into {@code values}, from index 0. Allocates nothing.
     *
     * @return false when the host failed to read it (logged by the sensor).
     */
    public abstract boolean read(long[] values);

    /**
     * Back to the state of a new front-end: enabled.
     */
    void reset()
    {
        enabled = true;
    }

    /**
     * Releases what the sensor holds on the host (open files).
     */
    public void close()
    {
    }

    @Override
    public String toString()
    {
        return getClass().getSimpleName() + "[" + name + ", unit " + unit + ", " + axes() + " axes]";
    }
}
