package io.jvhost.device.gpio;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicIntegerArray;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-gpio (virtio ID 41), flag-compatible with rust-vmm's vhost-device-gpio: one {@link GpioChip} per device.
 * <p>
 * Config space: {@code le16 ngpio, u8 padding[2], le32 gpio_names_size}. The request queue carries
 * {@code le16 type, le16 gpio, le32 value} requests answered with {@code u8 status} then {@code u8 value} (GET_NAMES:
 * the NUL-separated names); status 0 is OK, 1 ERR. With {@code VIRTIO_GPIO_F_IRQ} the event queue holds one buffer
 * per unmasked line ({@code le16 gpio} in, {@code u8 status} out): the device keeps it until the line triggers
 * (status 1, VALID) or its interrupt is disabled (status 0, INVALID). A trigger while no buffer is held is latched
 * and delivered with the next; a level-triggered line still active when its buffer comes fires at once.
 * <p>
 * Hostile requests: a line beyond ngpio, an unknown type, a direction other than none/out/in, a value other than 0/1,
 * an interrupt type outside virtio's set or changed without passing through NONE (as rust), a request cut short, or a
 * response that does not fit, are answered ERR; a request without a writable byte comes back empty; an event buffer
 * for a line out of range, not armed, or already held comes back INVALID. One log line each (the first ten, then every
 * thousandth); the device serves on.
 * <p>
 * Held event buffers keep only their head and the guest address of their status byte, written through the memory of
 * the batch that completes them (a memory remap in between cannot fault); they stay held across a VM stop and cont
 * (the ring resumes past them, so the driver would never get them back otherwise) and are dropped by a reset. Both
 * queues share one worker; interrupts from other threads set a latch bit and wake the event queue.
 */
public final class GpioDevice implements VirtioDevice
{
    public static final int DEVICE_TYPE = 41;
    /** vhost-device-gpio's queue size. */
    public static final int QUEUE_SIZE = 256;
    public static final int REQUEST_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    /** VIRTIO_GPIO_F_IRQ. */
    public static final int F_IRQ = 0;
    public static final int CONFIG_SIZE = 8;

    public static final int MSG_GET_NAMES = 1;
    public static final int MSG_GET_DIRECTION = 2;
    public static final int MSG_SET_DIRECTION = 3;
    public static final int MSG_GET_VALUE = 4;
    public static final int MSG_SET_VALUE = 5;
    public static final int MSG_IRQ_TYPE = 6;

    public static final int STATUS_OK = 0;
    public static final int STATUS_ERR = 1;
    public static final int IRQ_INVALID = 0;
    public static final int IRQ_VALID = 1;

    static final int REQUEST_SIZE = 8;
    private static final int MAX_EVENT_CHAIN = 8;
    private static final int IRQ_ALL = GpioChip.IRQ_EDGE_BOTH | GpioChip.IRQ_LEVEL_HIGH | GpioChip.IRQ_LEVEL_LOW;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(GpioDevice.class.getName());

    private final String name;
    private final GpioChip chip;
    private final int lines;
    private final byte[] names;
    private final MemorySegment request = MemorySegment.ofArray(new byte[REQUEST_SIZE]);
    private final MemorySegment response = MemorySegment.ofArray(new byte[2]);
    private final int[] irqTypes;
    /** Per line: the value the driver last set (an output starts at it, as in rust). */
    private final int[] outputValues;
    /** Per line: an event buffer is held. */
    private final boolean[] held;
    private final DescriptorChain[] heldChains;
    private final long[] heldStatus;
    /** Per line: a trigger waits for delivery. Set from any thread. */
    private final AtomicIntegerArray latched;
    private volatile DeviceContext context;
    private volatile boolean irqNegotiated;
    private final Refusals refusals;
    private long interruptsDelivered;

    public GpioDevice(final String name, final GpioChip chip)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "request");
        this.chip = chip;
        this.lines = chip.lineCount();
        if (lines < 1 || lines > 0xFFFF)
        {
            throw new IllegalArgumentException("a GPIO chip has 1..65535 lines, got " + lines);
        }
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines; i++)
        {
            sb.append(chip.name(i)).append('\0');
        }
        this.names = sb.toString().getBytes(StandardCharsets.UTF_8);
        this.irqTypes = new int[lines];
        this.outputValues = new int[lines];
        this.held = new boolean[lines];
        this.heldChains = new DescriptorChain[lines];
        this.heldStatus = new long[lines];
        this.latched = new AtomicIntegerArray(lines);
        chip.onInterrupt(this::trigger);
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "gpio";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE | 1L << F_IRQ;
    }

    @Override
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
    }

    @Override
    public void featuresAcked(final long features)
    {
        irqNegotiated = (features & 1L << F_IRQ) != 0;
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
        config.set(LE16, 0, (short)lines);
        config.set(LE32, 4, names.length);
        ConfigSpace.read(config, offset, dst);
    }

    public long refusedRequests()
    {
        return refusals.count();
    }

    public long interruptsDelivered()
    {
        return interruptsDelivered;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() == REQUEST_QUEUE)
        {
            DescriptorChain chain;
            while (null != (chain = queue.next()))
            {
                queue.complete(chain, answer(queue, chain));
            }
        }
        else if (irqNegotiated)
        {
            serveEvents(queue);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // requestq

    private long answer(final DeviceQueue queue, final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        if (out.remaining() < 1)
        {
            refusals.refuse(chain, "has no writable status byte; returned empty");
            return 0;
        }
        final ChainReader in = chain.reader();
        try
        {
            if (in.remaining() < REQUEST_SIZE)
            {
                refusals.refuse(chain, "has " + in.remaining() + " readable bytes, fewer than the 8-byte request");
                return error(out);
            }
            in.read(request, 0, REQUEST_SIZE);
            final int type = request.get(LE16, 0) & 0xFFFF;
            final int line = request.get(LE16, 2) & 0xFFFF;
            final int value = request.get(LE32, 4);
            if (type == MSG_GET_NAMES)
            {
                if (out.remaining() < 1 + names.length)
                {
                    refusals.refuse(chain, "asks for the " + names.length + " bytes of names with "
                        + (out.remaining() - 1) + " bytes of room");
                    return error(out);
                }
                out.writeByte((byte)STATUS_OK);
                out.write(MemorySegment.ofArray(names), 0, names.length);
                return out.written();
            }
            if (type < MSG_GET_DIRECTION || type > MSG_IRQ_TYPE)
            {
                refusals.refuse(chain, "has unknown type " + type);
                return error(out);
            }
            if (line >= lines)
            {
                refusals.refuse(chain, "names line " + line + "; the chip has " + lines);
                return error(out);
            }
            if (out.remaining() < 2)
            {
                refusals.refuse(chain, "has " + out.remaining() + " writable bytes, the response needs 2");
                return error(out);
            }
            final int result = execute(queue, chain, type, line, value);
            if (result < 0)
            {
                return error(out);
            }
            response.set(ValueLayout.JAVA_BYTE, 0, (byte)STATUS_OK);
            response.set(ValueLayout.JAVA_BYTE, 1, (byte)result);
            out.write(response, 0, 2);
            return out.written();
        }
        catch (final ChainAccessException e)
        {
            refusals.refuse(chain, e.getMessage());
            return 0;
        }
    }

    /**
     * @return the response's value byte, or -1 for ERR (logged).
     */
    private int execute(final DeviceQueue queue, final DescriptorChain chain, final int type, final int line,
        final int value)
    {
        switch (type)
        {
            case MSG_GET_DIRECTION:
                return chip.direction(line);
            case MSG_SET_DIRECTION:
                if (value != GpioChip.DIRECTION_NONE && value != GpioChip.DIRECTION_OUT
                    && value != GpioChip.DIRECTION_IN)
                {
                    refusals.refuse(chain, "sets line " + line + " to direction " + value + " (0 none, 1 out, 2 in)");
                    return -1;
                }
                return chip.setDirection(line, value, outputValues[line]) ? 0 : chipRefused(chain, line);
            case MSG_GET_VALUE:
            {
                final int v = chip.value(line);
                return v < 0 ? chipRefused(chain, line) : v;
            }
            case MSG_SET_VALUE:
                if (value != 0 && value != 1)
                {
                    refusals.refuse(chain, "sets line " + line + " to value " + value + " (0 or 1)");
                    return -1;
                }
                outputValues[line] = value;
                return chip.setValue(line, value) ? 0 : chipRefused(chain, line);
            default:
                return setIrqType(queue, chain, line, value);
        }
    }

    private int setIrqType(final DeviceQueue queue, final DescriptorChain chain, final int line, final int type)
    {
        if (!irqNegotiated)
        {
            refusals.refuse(chain, "sets an interrupt type but VIRTIO_GPIO_F_IRQ was not negotiated");
            return -1;
        }
        if ((type & ~IRQ_ALL) != 0 || type == (GpioChip.IRQ_LEVEL_HIGH | GpioChip.IRQ_LEVEL_LOW)
            || (type & GpioChip.IRQ_EDGE_BOTH) != 0 && (type & ~GpioChip.IRQ_EDGE_BOTH) != 0)
        {
            refusals.refuse(chain, "sets line " + line + " to interrupt type 0x" + Integer.toHexString(type));
            return -1;
        }
        final int previous = irqTypes[line];
        if (previous != GpioChip.IRQ_NONE && type != GpioChip.IRQ_NONE && previous != type)
        {
            refusals.refuse(chain, "changes line " + line + "'s interrupt type from 0x" + Integer.toHexString(previous)
                + " to 0x" + Integer.toHexString(type) + " without disabling it first");
            return -1;
        }
        if (!chip.setIrqType(line, type))
        {
            return chipRefused(chain, line);
        }
        irqTypes[line] = type;
        if (type == GpioChip.IRQ_NONE)
        {
            latched.set(line, 0);
            if (held[line])
            {
                final DeviceContext c = context;
                if (null != c)
                {
                    c.wake(EVENT_QUEUE);
                }
            }
        }
        return 0;
    }

    private int chipRefused(final DescriptorChain chain, final int line)
    {
        refusals.refuse(chain, "was refused by the chip for line " + line);
        return -1;
    }

    private long error(final ChainWriter out)
    {
        response.set(ValueLayout.JAVA_BYTE, 0, (byte)STATUS_ERR);
        response.set(ValueLayout.JAVA_BYTE, 1, (byte)0);
        try
        {
            out.write(response, 0, Math.min(2, out.remaining()));
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return out.written();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // eventq

    private void trigger(final int line)
    {
        if (line < 0 || line >= lines)
        {
            return;
        }
        latched.set(line, 1);
        final DeviceContext c = context;
        if (null != c)
        {
            c.wake(EVENT_QUEUE);
        }
    }

    private void serveEvents(final DeviceQueue queue)
    {
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            final int line = hold(queue, chain);
            if (line >= 0 && irqTypes[line] >= GpioChip.IRQ_LEVEL_HIGH && chip.levelActive(line))
            {
                latched.set(line, 1);
            }
        }
        for (int line = 0; line < lines; line++)
        {
            if (!held[line])
            {
                continue;
            }
            if (irqTypes[line] == GpioChip.IRQ_NONE)
            {
                release(queue, line, IRQ_INVALID);
            }
            else if (latched.getAndSet(line, 0) != 0)
            {
                release(queue, line, IRQ_VALID);
                interruptsDelivered++;
            }
        }
    }

    /**
     * Keeps an event buffer for its line, or returns it INVALID.
     *
     * @return the line it is held for, or -1.
     */
    private int hold(final DeviceQueue queue, final DescriptorChain chain)
    {
        final ChainReader in = chain.reader();
        if (in.remaining() < 2 || chain.writableBytes() < 1 || chain.count() > MAX_EVENT_CHAIN)
        {
            refusals.refuse(chain, "is an event buffer of " + in.remaining() + " readable and " + chain.writableBytes()
                + " writable bytes in " + chain.count() + " buffers; it needs 2 and 1");
            completeNow(queue, chain, IRQ_INVALID);
            return -1;
        }
        final int line;
        try
        {
            line = in.readShort() & 0xFFFF;
        }
        catch (final ChainAccessException e)
        {
            completeNow(queue, chain, IRQ_INVALID);
            return -1;
        }
        if (line >= lines || irqTypes[line] == GpioChip.IRQ_NONE || held[line])
        {
            refusals.refuse(chain, "is an event buffer for line " + line + (line >= lines ? ", beyond the chip's "
                + lines
                : held[line] ? ", which has one already" : ", whose interrupt is disabled") + "; returned INVALID");
            completeNow(queue, chain, IRQ_INVALID);
            return -1;
        }
        if (null == heldChains[line])
        {
            heldChains[line] = new DescriptorChain(MAX_EVENT_CHAIN);
        }
        heldChains[line].copyFrom(chain);
        heldStatus[line] = statusAddress(chain);
        held[line] = true;
        return line;
    }

    /**
     * @return the guest address of the chain's first writable byte.
     */
    private static long statusAddress(final DescriptorChain chain)
    {
        for (int i = 0; i < chain.count(); i++)
        {
            if (chain.isWritable(i) && chain.length(i) != 0)
            {
                return chain.address(i);
            }
        }
        return -1;
    }

    private void completeNow(final DeviceQueue queue, final DescriptorChain chain, final int status)
    {
        final ChainWriter out = chain.writer();
        response.set(ValueLayout.JAVA_BYTE, 0, (byte)status);
        try
        {
            out.write(response, 0, Math.min(1, out.remaining()));
        }
        catch (final ChainAccessException e)
        {
            queue.complete(chain, 0);
            return;
        }
        queue.complete(chain, out.written());
    }

    private void release(final DeviceQueue queue, final int line, final int status)
    {
        held[line] = false;
        response.set(ValueLayout.JAVA_BYTE, 0, (byte)status);
        try
        {
            queue.memory().write(heldStatus[line], response, 0, 1);
        }
        catch (final GuestMemoryException | RuntimeException e)
        {
            LOG.log(Level.WARNING, name + ": the event buffer of line " + line + " is no longer in guest memory: "
                + e.getMessage() + "; returned empty");
            queue.complete(heldChains[line], 0);
            return;
        }
        queue.complete(heldChains[line], 1);
    }

    /**
     * The event queue stops (VM stop): every buffer held for a line goes back with {@link #IRQ_INVALID}, as when its
     * interrupt is disabled, so the ring's used index accounts for it; Linux's driver requeues an INVALID buffer of a
     * line whose interrupt is still enabled, and after the VM's {@code cont} the device holds it again. The lines'
     * interrupt types and latched edges are kept. Requests are answered at once: nothing else is held.
     */
    @Override
    public void queueStopping(final DeviceQueue queue)
    {
        if (queue.index() != EVENT_QUEUE)
        {
            return;
        }
        int returned = 0;
        for (int line = 0; line < lines; line++)
        {
            if (held[line])
            {
                release(queue, line, IRQ_INVALID);
                returned++;
            }
        }
        if (returned > 0)
        {
            LOG.log(Level.INFO, name + ": " + returned + " held event buffers returned INVALID as the queue stops");
        }
    }

    @Override
    public void reset()
    {
        java.util.Arrays.fill(held, false);
        for (int line = 0; line < lines; line++)
        {
            if (irqTypes[line] != GpioChip.IRQ_NONE)
            {
                chip.setIrqType(line, GpioChip.IRQ_NONE);
                irqTypes[line] = GpioChip.IRQ_NONE;
            }
            latched.set(line, 0);
            outputValues[line] = 0;
        }
        irqNegotiated = false;
    }
}
