package io.jvhost.device.sound;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.sound.wire.SoundEvent;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * The event queue: notifications (xruns) waiting for the driver's buffers, in a fixed ring of 32.
 */
final class SoundEvents
{
    private static final System.Logger LOG = System.getLogger(SoundEvents.class.getName());
    private static final int EVENT_CAPACITY = 32;

    private final String name;
    private final IntConsumer wakeQueue;
    private final MemorySegment eventBytes = Arena.ofAuto().allocate(SoundEvent.SIZE, 8);
    private final SoundEvent soundEvent = new SoundEvent();
    private final int[] eventType = new int[EVENT_CAPACITY];
    private final int[] eventData = new int[EVENT_CAPACITY];
    private int eventHead;
    private int eventCount;
    private long eventsDropped;

    SoundEvents(final String name, final IntConsumer wakeQueue)
    {
        this.name = name;
        this.wakeQueue = wakeQueue;
    }

    /**
     * Hands pending events to the driver's buffers; buffers wait in the ring while there is nothing to say.
     */
    void serve(final DeviceQueue queue)
    {
        while (eventCount > 0)
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            if (chain.writableBytes() < SoundEvent.SIZE)
            {
                LOG.log(Level.WARNING, name + ": event buffer " + chain.head() + " has " + chain.writableBytes()
                    + " writable bytes, an event needs " + SoundEvent.SIZE + "; returned unused");
                queue.complete(chain, 0);
                continue;
            }
            soundEvent.wrap(eventBytes).set(eventType[eventHead], eventData[eventHead]);
            try
            {
                chain.writer().write(eventBytes, 0, SoundEvent.SIZE);
            }
            catch (final ChainAccessException e)
            {
                LOG.log(Level.WARNING, name + ": event buffer " + chain.head() + " failed: " + e.getMessage());
                queue.complete(chain, 0);
                continue;
            }
            eventHead = (eventHead + 1) % EVENT_CAPACITY;
            eventCount--;
            queue.complete(chain, SoundEvent.SIZE);
        }
    }

    /**
     * Queues an event (dropped, counted and logged when the driver has left 32 untaken).
     */
    void post(final int type, final int data)
    {
        if (eventCount == EVENT_CAPACITY)
        {
            if (eventsDropped++ % 1000 == 0)
            {
                LOG.log(Level.WARNING, name + ": the driver takes no events; " + eventsDropped + " dropped");
            }
            return;
        }
        final int tail = (eventHead + eventCount) % EVENT_CAPACITY;
        eventType[tail] = type;
        eventData[tail] = data;
        eventCount++;
        wakeQueue.accept(Snd.EVENT_QUEUE);
    }

    /**
     * Forgets pending events (a reset).
     */
    void clear()
    {
        eventHead = 0;
        eventCount = 0;
    }
}
