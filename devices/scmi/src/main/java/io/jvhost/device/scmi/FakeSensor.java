package io.jvhost.device.scmi;

/**
 * vhost-device-scmi's {@code fake} device: a sensor with no host behind it whose value goes up by one (modulo 256)
 * at each reading. As in vhost-device-scmi it is an accelerometer with three axes {@code acc_X}, {@code acc_Y},
 * {@code acc_Z} in m/s² reading {@code v}, {@code v + 100} and {@code v + 200}. jvhost adds the kind
 * {@link Kind#THERMOMETER}: a scalar sensor in °C reading {@code v}, a type Linux's scmi-hwmon shows (it shows
 * temperature, voltage, current, power and energy sensors, no accelerometer).
 */
public final class FakeSensor extends ScmiSensor
{
    public static final String DEFAULT_NAME = "fake";

    public enum Kind
    {
        ACCELEROMETER, THERMOMETER
    }

    private final Kind kind;
    private int value;

    public FakeSensor(final String name, final Kind kind)
    {
        super(name, kind == Kind.ACCELEROMETER ? UNIT_METERS_PER_SECOND_SQUARED : UNIT_DEGREES_C,
            kind == Kind.ACCELEROMETER ? new int[3] : new int[1],
            kind == Kind.ACCELEROMETER ? new String[] {"acc_X", "acc_Y", "acc_Z"} : new String[0]);
        this.kind = kind;
    }

    public Kind kind()
    {
        return kind;
    }

    @Override
    public boolean read(final long[] values)
    {
        final int v = value;
        value = (value + 1) & 0xFF;
        for (int i = 0; i < values(); i++)
        {
            values[i] = v + 100L * i;
        }
        return true;
    }
}
