package io.jvhost.device.gpio;

import java.util.function.IntConsumer;

/**
 * A host GPIO chip the guest's lines go to: simulated ({@link SimulatedGpioChip}) or a Linux GPIO character device.
 * Line numbers are checked by the device before they reach the chip. Calls come from the device's worker thread;
 * interrupts may be reported from any thread.
 */
public interface GpioChip extends AutoCloseable
{
    int DIRECTION_NONE = 0;
    int DIRECTION_OUT = 1;
    int DIRECTION_IN = 2;

    int IRQ_NONE = 0;
    int IRQ_EDGE_RISING = 1;
    int IRQ_EDGE_FALLING = 2;
    int IRQ_EDGE_BOTH = 3;
    int IRQ_LEVEL_HIGH = 4;
    int IRQ_LEVEL_LOW = 8;

    int lineCount();

    /**
     * @return line {@code line}'s name (may be empty).
     */
    String name(int line);

    /**
     * @return {@link #DIRECTION_NONE}, {@link #DIRECTION_OUT} or {@link #DIRECTION_IN}.
     */
    int direction(int line);

    /**
     * @param value the level an output starts at.
     * @return false when the chip refuses.
     */
    boolean setDirection(int line, int direction, int value);

    /**
     * @return the line's level, 0 or 1, or -1 when it cannot be read.
     */
    int value(int line);

    /**
     * @return false when the chip refuses.
     */
    boolean setValue(int line, int value);

    /**
     * Arms (or with {@link #IRQ_NONE} disarms) the line's interrupt; a trigger is then reported to the listener.
     *
     * @return false when the chip refuses.
     */
    boolean setIrqType(int line, int type);

    /**
     * @return true when a level-triggered line is at its active level now (checked when the driver unmasks it).
     */
    boolean levelActive(int line);

    /**
     * Where triggers go: the device's, which latches the line and wakes its event queue. Safe from any thread.
     */
    void onInterrupt(IntConsumer listener);

    @Override
    default void close()
    {
    }
}
