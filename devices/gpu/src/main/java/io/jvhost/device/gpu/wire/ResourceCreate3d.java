package io.jvhost.device.gpu.wire;

/**
 * RESOURCE_CREATE_3D.
 * <pre>
 *   0     24    28     32     36   40    44     48    52    56         60         64         68    72
 *   +-----+-----+------+------+----+-----+------+-----+-----+----------+----------+----------+-----+-----+
 *   | hdr | id  |target|format|bind|width|height|depth|array|last_level|nr_samples|  flags   | pad |
 *   +-----+-----+------+------+----+-----+------+-----+-----+----------+----------+----------+-----+
 * </pre>
 */
public final class ResourceCreate3d extends Flyweight
{
    public static final int SIZE = 72;

    public int resourceId()
    {
        return i32(24);
    }

    public int target()
    {
        return i32(28);
    }

    public int format()
    {
        return i32(32);
    }

    public int bind()
    {
        return i32(36);
    }

    public long width()
    {
        return u32(40);
    }

    public long height()
    {
        return u32(44);
    }

    public long depth()
    {
        return u32(48);
    }

    public long arraySize()
    {
        return u32(52);
    }

    public long lastLevel()
    {
        return u32(56);
    }

    public long nrSamples()
    {
        return u32(60);
    }

    public int flags()
    {
        return i32(64);
    }
}
