package io.jvhost.device.gpio;

import java.util.function.IntConsumer;

/**
 * A simulated GPIO chip (rust-vmm's {@code sN} mock, with inputs a test or the control socket drives): lines named
 * {@code sim0}..{@code simN-1}, all starting as inputs at level 0. An output reads back what the guest set; an
 * input reads what {@link #drive} set. Driving an input whose interrupt is armed triggers it: the edges its type
 * asks for, or the active level for a level type.
 */
public final class SimulatedGpioChip implements GpioChip
{
    /** The most lines a simulated chip has (virtio's ngpio is 16 bits; keep the names blob small). */
    public static final int MAX_LINES = 1024;

    private final int[] directions;
    private final int[] outputs;
    private final int[] inputs;
    private final int[] irqTypes;
    private volatile IntConsumer listener = line -> { };

    public SimulatedGpioChip(final int lines)
    {
        if (lines < 1 || lines > MAX_LINES)
        {
            throw new IllegalArgumentException("a simulated chip has 1.." + MAX_LINES + " lines, got " + lines);
        }
        directions = new int[lines];
        outputs = new int[lines];
        inputs = new int[lines];
        irqTypes = new int[lines];
        java.util.Arrays.fill(directions, DIRECTION_IN);
    }

    @Override
    public int lineCount()
    {
        return directions.length;
    }

    @Override
    public String name(final int line)
    {
        return "sim" + line;
    }

    @Override
    public synchronized int direction(final int line)
    {
        return directions[line];
    }

    @Override
    public synchronized boolean setDirection(final int line, final int direction, final int value)
    {
        directions[line] = direction;
        if (direction == DIRECTION_OUT)
        {
            outputs[line] = value;
        }
        return true;
    }

    @Override
    public synchronized int value(final int line)
    {
        return directions[line] == DIRECTION_OUT ? outputs[line] : inputs[line];
    }

    @Override
    public synchronized boolean setValue(final int line, final int value)
    {
        outputs[line] = value;
        return true;
    }

    @Override
    public synchronized boolean setIrqType(final int line, final int type)
    {
        irqTypes[line] = type;
        return true;
    }

    @Override
    public synchronized boolean levelActive(final int line)
    {
        return irqTypes[line] == IRQ_LEVEL_HIGH && inputs[line] == 1 || irqTypes[line] == IRQ_LEVEL_LOW && inputs[line] == 0;
    }

    @Override
    public void onInterrupt(final IntConsumer interruptListener)
    {
        this.listener = interruptListener;
    }

    /**
     * Drives input {@code line} to {@code level} (what the outside world does to the pin).
     *
     * @throws IllegalArgumentException for a line or level out of range.
     */
    public void drive(final int line, final int level)
    {
        if (line < 0 || line >= directions.length || level < 0 || level > 1)
        {
            throw new IllegalArgumentException("line must be 0.." + (directions.length - 1) + " and level 0 or 1, got "
                + line + " and " + level);
        }
        final boolean trigger;
        synchronized (this)
        {
            final int before = inputs[line];
            inputs[line] = level;
            final int type = irqTypes[line];
            final boolean rising = before == 0 && level == 1;
            final boolean falling = before == 1 && level == 0;
            trigger = rising && (type & IRQ_EDGE_RISING) != 0 || falling && (type & IRQ_EDGE_FALLING) != 0
                || level == 1 && type == IRQ_LEVEL_HIGH || level == 0 && type == IRQ_LEVEL_LOW;
        }
        if (trigger)
        {
            listener.accept(line);
        }
    }

    /**
     * @return the level the guest set on {@code line} (whatever its direction).
     */
    public synchronized int output(final int line)
    {
        return outputs[line];
    }

    /**
     * @return the armed interrupt type of {@code line}.
     */
    public synchronized int irqType(final int line)
    {
        return irqTypes[line];
    }
}
