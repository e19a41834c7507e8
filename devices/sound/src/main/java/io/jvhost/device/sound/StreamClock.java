package io.jvhost.device.sound;

/**
 * Real-time pacing of one running stream: when the audio consumed so far (playback) or produced so far (capture) has
 * played, counted from an anchor (the START, or the end of an underrun). A message of {@code n} bytes is due when the
 * stream's audio up to its end has played: so the first one after START completes one message's duration after it,
 * and a queue that never runs dry completes exactly in real time, without drift (deadlines come from the byte count
 * since the anchor, not from adding rounded durations).
 */
final class StreamClock
{
    private long anchorNanos;
    private long bytesSinceAnchor;
    private long byteRate;

    /**
     * Starts counting at {@code now} for a stream of {@code byteRate} bytes per second.
     */
    void start(final long now, final long byteRate)
    {
        this.anchorNanos = now;
        this.bytesSinceAnchor = 0;
        this.byteRate = byteRate;
    }

    /**
     * @return when {@code bytes} more bytes will have played.
     */
    long deadline(final long bytes)
    {
        return anchorNanos + nanosOf(bytesSinceAnchor + bytes);
    }

    /**
     * @return when everything consumed so far has played.
     */
    long end()
    {
        return anchorNanos + nanosOf(bytesSinceAnchor);
    }

    void consumed(final long bytes)
    {
        bytesSinceAnchor += bytes;
    }

    /**
     * After the stream ran dry: audio resumes at {@code now}, not in the past (no catching up in a burst).
     */
    void resumeAfterGap(final long now)
    {
        if (now > end())
        {
            anchorNanos = now;
            bytesSinceAnchor = 0;
        }
    }

    /**
     * @return nanoseconds {@code bytes} of this stream last.
     */
    long nanosOf(final long bytes)
    {
        if (byteRate <= 0)
        {
            return 0;
        }
        return bytes < Long.MAX_VALUE / 1_000_000_000L ? bytes * 1_000_000_000L / byteRate
            : (long)((double)bytes * 1e9 / byteRate);
    }
}
