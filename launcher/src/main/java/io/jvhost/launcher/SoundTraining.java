package io.jvhost.launcher;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import io.jvhost.device.ActiveQueue;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.sound.NullBackend;
import io.jvhost.device.sound.Snd;
import io.jvhost.device.sound.SoundDevice;
import io.jvhost.device.sound.wire.PcmSetParams;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * The sound data path for {@link AotTraining}: a low-rate device runs its period path about ten times a second, so
 * without a profile from the training run that path stays in the interpreter for the first tens of seconds of every
 * playback (the JIT's thresholds are counted in calls). Here the path runs as a guest drives it, many thousand
 * periods in well under a second: a {@link SoundDevice} with the null back-end on in-process rings (the driver side
 * is {@link DriverQueue}), S16 stereo at 48 kHz in 100 ms periods, sixteen messages held as Linux's virtio_snd keeps
 * them, each completed when the clock (moved here, never slept on) says it has played, and replaced by the next.
 * <pre>
 *  guest memory: 0x0000 control rings, 0x4000 tx rings, 0x8000 control request/response,
 *                0x10000 + 32 KiB x slot: one message (4-byte header + 19200 bytes of frames, 8-byte status)
 * </pre>
 */
final class SoundTraining
{
    /** One 100 ms period of 48 kHz S16 stereo: what GuestBench's guest (and a desktop guest) plays. */
    static final int PERIOD_BYTES = 4800 * 4;
    /** Messages in flight, as virtio_snd's default buffer of 16 periods. */
    static final int HELD = 16;
    private static final long PERIOD_NANOS = 100_000_000L;
    private static final int QUEUE = 64;
    private static final long CONTROL_RING = 0;
    private static final long TX_RING = 0x4000;
    private static final long REQUEST = 0x8000;
    private static final long RESPONSE = 0x8100;
    private static final long MESSAGES = 0x10000;
    private static final long SLOT = 0x8000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private long now = 1_000_000_000L;

    /**
     * What a training run did.
     *
     * @param completed messages the device completed with {@link Snd#S_OK}.
     * @param bytes     payload bytes the device reports played.
     * @param refused   messages the device refused (none, when the training drives it as a guest does).
     */
    record Result(long completed, long bytes, long refused)
    {
    }

    /**
     * Plays {@code periods} periods through a fresh device.
     *
     * @throws IllegalStateException when the device refuses a control request or completes a message with another
     *                               status than OK (the training would then profile an error path).
     */
    Result play(final int periods) throws GuestMemoryException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment ram = arena.allocate(MESSAGES + QUEUE * SLOT, 4096);
            final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0)), 8);
            final DriverQueue controlDriver = new DriverQueue(ram, 0, QUEUE, CONTROL_RING);
            final DriverQueue txDriver = new DriverQueue(ram, 0, QUEUE, TX_RING);
            controlDriver.setEventIdx(true);
            txDriver.setEventIdx(true);
            final ActiveQueue control = queue(Snd.CONTROL_QUEUE, controlDriver, memory);
            final ActiveQueue tx = queue(Snd.TX_QUEUE, txDriver, memory);
            final SoundDevice device = new SoundDevice("aot-training", new NullBackend(), () -> now);
            device.attach(new DeviceContext()
            {
                @Override
                public void wake(final int queue)
                {
                    // Nothing waits on the worker here: the rings are served below.
                }
            });
            device.featuresAcked(device.features());
            for (int q = 0; q < 4; q++)
            {
                device.queueStarted(q);
            }
            final MemorySegment request = ram.asSlice(REQUEST, PcmSetParams.SIZE);
            new PcmSetParams().wrap(request).set(Snd.R_PCM_SET_PARAMS, 0, HELD * PERIOD_BYTES, PERIOD_BYTES, 0, 2,
                Snd.FMT_S16, Snd.RATE_48000);
            control(ram, controlDriver, control, device, PcmSetParams.SIZE);
            request.set(LE32, 0, Snd.R_PCM_PREPARE);
            control(ram, controlDriver, control, device, 8);
            final long[] gpas = new long[2];
            final int[] lengths = {4 + PERIOD_BYTES, 8};
            int queued = 0;
            for (; queued < HELD; queued++)
            {
                add(ram, txDriver, gpas, lengths, queued);
            }
            txDriver.publish();
            tx.serve(device);
            request.set(LE32, 0, Snd.R_PCM_START);
            control(ram, controlDriver, control, device, 8);
            long completed = 0;
            int idle = 0;
            while (completed < periods)
            {
                now += PERIOD_NANOS;
                tx.serve(device);
                if (txDriver.usedIdx() == (int)(completed & 0xFFFF) && ++idle > 2 * HELD)
                {
                    throw new IllegalStateException("aot-training: no sound message completed in " + idle
                        + " periods (" + completed + " so far)");
                }
                long used;
                while ((used = txDriver.pollUsed()) != -1)
                {
                    final int head = (int)(used >>> 32);
                    final int status = ram.get(LE32, statusGpa(slotOf(ram, head)));
                    if (status != Snd.S_OK)
                    {
                        throw new IllegalStateException("aot-training: sound message completed with "
                            + Snd.statusName(status));
                    }
                    completed++;
                    idle = 0;
                    add(ram, txDriver, gpas, lengths, queued++);
                    txDriver.publish();
                }
            }
            request.set(LE32, 0, Snd.R_PCM_STOP);
            control(ram, controlDriver, control, device, 8);
            final long bytes = device.bytes(0);
            request.set(LE32, 0, Snd.R_PCM_RELEASE);
            control(ram, controlDriver, control, device, 8);
            final long refused = device.refusedMessages();
            device.reset();
            device.close();
            return new Result(completed, bytes, refused);
        }
    }

    private static ActiveQueue queue(final int index, final DriverQueue driver, final GuestMemory memory)
        throws GuestMemoryException
    {
        final SplitQueue ring = new SplitQueue(QUEUE);
        ring.setSize(QUEUE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.BASELINE);
        ring.bind(memory);
        return new ActiveQueue(index, "aot-training q" + index, ring, QUEUE);
    }

    /**
     * Queues message {@code n}: the stream id and the frames readable, the status writable, in its slot.
     */
    private static void add(final MemorySegment ram, final DriverQueue driver, final long[] gpas, final int[] lengths,
        final int n)
    {
        final long at = MESSAGES + (n % QUEUE) * SLOT;
        ram.set(LE32, at, 0);
        ram.set(LE32, statusGpa(at), -1);
        gpas[0] = at;
        gpas[1] = statusGpa(at);
        driver.add(gpas, lengths, 1, 1);
    }

    private static long statusGpa(final long slot)
    {
        return slot + 4 + PERIOD_BYTES;
    }

    /**
     * @return the slot of the completed chain {@code head}: its first descriptor's address, from the descriptor table.
     */
    private static long slotOf(final MemorySegment ram, final int head)
    {
        return ram.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), TX_RING + head * 16L);
    }

    private static void control(final MemorySegment ram, final DriverQueue driver, final ActiveQueue queue,
        final SoundDevice device, final int length)
    {
        ram.set(LE32, RESPONSE, -1);
        driver.add(new long[] {REQUEST, RESPONSE}, new int[] {length, 64}, 1, 1);
        driver.publish();
        queue.serve(device);
        if (driver.pollUsed() == -1 || ram.get(LE32, RESPONSE) != Snd.S_OK)
        {
            throw new IllegalStateException("aot-training: sound control request " + Snd.requestName(ram.get(LE32,
                REQUEST)) + " refused: " + Snd.statusName(ram.get(LE32, RESPONSE)));
        }
    }
}
