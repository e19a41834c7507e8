package io.jvhost.display;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.input.InputSink;

/**
 * An InputSink that records every event as "type code value".
 */
final class RecordingInput implements InputSink
{
    private final List<String> events = new ArrayList<>();

    @Override
    public synchronized void event(final int type, final int code, final int value)
    {
        events.add(type + " " + code + " " + value);
        notifyAll();
    }

    synchronized List<String> events()
    {
        return List.copyOf(events);
    }

    /**
     * @return the events once there are at least {@code count}.
     */
    synchronized List<String> await(final int count, final Duration timeout) throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (events.size() < count)
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0)
            {
                throw new AssertionError("expected " + count + " input events, got " + events);
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return List.copyOf(events);
    }

    static String key(final int code, final int value)
    {
        return EV_KEY + " " + code + " " + value;
    }

    static String syn()
    {
        return EV_SYN + " " + SYN_REPORT + " 0";
    }
}
