package io.jvhost.device.sound;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A back-end that keeps what it was given and produces a counting byte pattern for capture; it can be told to fail
 * PREPARE.
 */
final class RecordingBackend implements SoundBackend
{
    final ByteArrayOutputStream played = new ByteArrayOutputStream();
    final List<String> calls = new ArrayList<>();
    String failPrepare;
    int captured;

    @Override
    public String name()
    {
        return "recording";
    }

    @Override
    public String prepare(final int streamId, final int direction, final PcmParams params)
    {
        calls.add("prepare " + streamId);
        return failPrepare;
    }

    @Override
    public void start(final int streamId)
    {
        calls.add("start " + streamId);
    }

    @Override
    public void stop(final int streamId)
    {
        calls.add("stop " + streamId);
    }

    @Override
    public void release(final int streamId)
    {
        calls.add("release " + streamId);
    }

    @Override
    public void write(final int streamId, final MemorySegment src, final long length)
    {
        played.writeBytes(src.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public void read(final int streamId, final MemorySegment dst, final long length)
    {
        for (long i = 0; i < length; i++)
        {
            dst.set(ValueLayout.JAVA_BYTE, i, (byte)captured++);
        }
    }
}
