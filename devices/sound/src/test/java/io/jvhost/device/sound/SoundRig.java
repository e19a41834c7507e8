package io.jvhost.device.sound;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * A {@link SoundDevice} on mock rings (the driver side is {@link DriverQueue} in a plain memory segment), with a clock
 * the test moves and a context that records wake-ups. Guest layout: rings at 0x1000 + 0x4000 per queue, control
 * requests at {@link #REQUEST}, responses at {@link #RESPONSE}, I/O messages from {@link #IO} on, 64 KiB apart.
 */
final class SoundRig implements AutoCloseable
{
    static final int SIZE = 64;
    static final long REQUEST = 0x80000;
    static final long RESPONSE = 0x90000;
    static final long IO = 0x100000;
    static final long IO_STRIDE = 0x10000;
    static final long STATUS = 0x800000;
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Arena arena = Arena.ofShared();
    final MemorySegment ram;
    final DriverQueue[] driver = new DriverQueue[4];
    final ActiveQueue[] queue = new ActiveQueue[4];
    final SoundDevice device;
    final List<Integer> wakes = new ArrayList<>();
    long now = 1_000_000_000L;
    private int ioSlot;

    SoundRig(final SoundBackend backend) throws Exception
    {
        ram = arena.allocate(16 << 20, 4096);
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x7000_0000L)), 8);
        for (int q = 0; q < 4; q++)
        {
            driver[q] = new DriverQueue(ram, 0, SIZE, 0x1000 + q * 0x4000L);
            final SplitQueue ring = new SplitQueue(SoundDevice.QUEUE_SIZE);
            ring.setSize(SIZE);
            ring.setGuestPhysAddresses(driver[q].descGpa(), driver[q].availGpa(), driver[q].usedGpa());
            ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            ring.bind(memory);
            queue[q] = new ActiveQueue(q, "sound q" + q, ring, SIZE);
        }
        device = new SoundDevice("sound0", backend, () -> now);
        device.attach(new DeviceContext()
        {
            @Override
            public void wake(final int q)
            {
                wakes.add(q);
            }
        });
        device.featuresAcked(device.features());
        for (int q = 0; q < 4; q++)
        {
            device.queueStarted(q);
        }
    }

    /**
     * @return what {@link ActiveQueue#serve} returned: nanoseconds until the device wants to run again, or 0.
     */
    long serve(final int q)
    {
        return queue[q].serve(device);
    }

    /**
     * Sends one control request and returns the response (as long as the device said it wrote).
     */
    byte[] control(final byte[] request, final int responseSize)
    {
        MemorySegment.copy(request, 0, ram, ValueLayout.JAVA_BYTE, REQUEST, request.length);
        ram.asSlice(RESPONSE, Math.max(responseSize, 1)).fill((byte)0x5A);
        final int head = responseSize == 0
            ? driver[0].add(new long[] {REQUEST}, new int[] {request.length}, 1, 0)
            : driver[0].add(new long[] {REQUEST, RESPONSE}, new int[] {request.length, responseSize}, 1, 1);
        driver[0].publish();
        serve(0);
        final long used = driver[0].pollUsed();
        if (used == -1 || (int)(used >>> 32) != head)
        {
            throw new AssertionError("control request not answered: " + used);
        }
        final int len = (int)(used & 0xFFFF_FFFFL);
        return ram.asSlice(RESPONSE, len).toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * @return the status of a control request's response ({@link Snd#S_OK}, ...).
     */
    int controlStatus(final byte[] request)
    {
        final byte[] r = control(request, 64);
        if (r.length < 4)
        {
            throw new AssertionError("response of " + r.length + " bytes");
        }
        return MemorySegment.ofArray(r).get(LE32, 0);
    }

    static byte[] pcm(final int code, final int stream)
    {
        final MemorySegment s = MemorySegment.ofArray(new byte[8]);
        s.set(LE32, 0, code);
        s.set(LE32, 4, stream);
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] setParams(final int stream, final int buffer, final int period, final int features,
        final int channels, final int format, final int rate)
    {
        final MemorySegment s = MemorySegment.ofArray(new byte[24]);
        new io.jvhost.device.sound.wire.PcmSetParams().wrap(s).set(Snd.R_PCM_SET_PARAMS, stream, buffer, period,
            features, channels, format, rate);
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] query(final int code, final int start, final int count, final int size)
    {
        final MemorySegment s = MemorySegment.ofArray(new byte[16]);
        new io.jvhost.device.sound.wire.QueryInfo().wrap(s).set(code, start, count, size);
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    /** S16 stereo 48 kHz, period 1024 frames (4096 bytes), buffer 4 periods. */
    void prepareS16Stereo(final int stream, final int features)
    {
        check(controlStatus(setParams(stream, 16384, 4096, features, 2, Snd.FMT_S16, Snd.RATE_48000)));
        check(controlStatus(pcm(Snd.R_PCM_PREPARE, stream)));
    }

    static void check(final int status)
    {
        if (status != Snd.S_OK)
        {
            throw new AssertionError("status " + Snd.statusName(status));
        }
    }

    /**
     * Queues a playback message: header and frames in one readable buffer, status in a writable one.
     *
     * @return the head.
     */
    int playback(final int stream, final byte[] frames)
    {
        final long gpa = IO + (ioSlot % SIZE) * IO_STRIDE;
        final long status = STATUS + (ioSlot % SIZE) * 16L;
        ioSlot++;
        ram.set(LE32, gpa, stream);
        MemorySegment.copy(frames, 0, ram, ValueLayout.JAVA_BYTE, gpa + 4, frames.length);
        ram.asSlice(status, 8).fill((byte)0x5A);
        final int head = driver[2].add(new long[] {gpa, status}, new int[] {4 + frames.length, 8}, 1, 1);
        driver[2].publish();
        return head;
    }

    /**
     * Queues a capture message of {@code bytes} bytes: header readable, frames and status writable.
     *
     * @return the gpa of its frames (the status follows them).
     */
    long capture(final int stream, final int bytes)
    {
        final long gpa = IO + (ioSlot % SIZE) * IO_STRIDE;
        ioSlot++;
        ram.set(LE32, gpa, stream);
        ram.asSlice(gpa + 16, bytes + 8).fill((byte)0x5A);
        driver[3].add(new long[] {gpa, gpa + 16}, new int[] {4, bytes + 8}, 1, 1);
        driver[3].publish();
        return gpa + 16;
    }

    /**
     * @return the status word a playback message with status buffer slot {@code slot} got.
     */
    int playbackStatus(final int slot)
    {
        return ram.get(LE32, STATUS + (slot % SIZE) * 16L);
    }

    /**
     * @return used elements of queue {@code q} now pending, as {@code head << 32 | len}.
     */
    List<Long> used(final int q)
    {
        final List<Long> out = new ArrayList<>();
        long u;
        while ((u = driver[q].pollUsed()) != -1)
        {
            out.add(u);
        }
        return out;
    }

    @Override
    public void close()
    {
        device.close();
        arena.close();
    }
}
