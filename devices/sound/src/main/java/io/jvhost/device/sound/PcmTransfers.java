package io.jvhost.device.sound;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.LongSupplier;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.sound.wire.PcmStatus;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.DescriptorChain;

/**
 * The tx and rx queues: I/O messages checked and held on their stream, then completed in real time while it runs
 * ({@link StreamClock}), their frames moved to or from the back-end; RELEASE returns them unplayed; a stream left
 * without messages for a whole buffer is an xrun. Nothing is allocated per message.
 */
final class PcmTransfers
{
    private static final System.Logger LOG = System.getLogger(PcmTransfers.class.getName());
    /** Bytes moved between guest memory and the back-end per call. */
    private static final int SCRATCH = 64 * 1024;

    private final String name;
    private final PcmStream[] streams;
    private final SoundBackend backend;
    private final LongSupplier clock;
    private final SoundEvents events;
    private final MemorySegment statusBytes;
    private final MemorySegment scratch;
    private final PcmStatus pcmStatus = new PcmStatus();
    private final HeldIo refused = new HeldIo(SoundDevice.QUEUE_SIZE);
    private long refusedMessages;
    private long faults;

    PcmTransfers(final String name, final PcmStream[] streams, final SoundBackend backend, final LongSupplier clock,
        final SoundEvents events)
    {
        this.name = name;
        this.streams = streams;
        this.backend = backend;
        this.clock = clock;
        this.events = events;
        final Arena arena = Arena.ofAuto();
        statusBytes = arena.allocate(PcmStatus.SIZE, 8);
        scratch = arena.allocate(SCRATCH, 64);
    }

    /**
     * @return I/O messages refused so far.
     */
    long refusedMessages()
    {
        return refusedMessages;
    }

    /**
     * Takes new messages of {@code direction} and completes those that are due.
     */
    void serve(final DeviceQueue queue, final int direction)
    {
        final long now = clock.getAsLong();
        DescriptorChain chain;
        while (null != (chain = queue.next()))
        {
            accept(queue, chain, direction, now);
        }
        long wait = Long.MAX_VALUE;
        boolean kicksWanted = false;
        for (final PcmStream s : streams)
        {
            if (s.direction() == direction)
            {
                wait = Math.min(wait, serveStream(queue, s, now));
                kicksWanted |= s.state == PcmState.RUNNING && s.held.isEmpty();
            }
        }
        if (wait == Long.MAX_VALUE)
        {
            return;
        }
        if (kicksWanted)
        {
            // A running stream with nothing held waits for its next message (or its xrun): take it when it comes.
            queue.retryAfter(wait);
        }
        else
        {
            // Each running stream holds its next message, due by then: the worker takes what the driver added
            // meanwhile at that call, so the driver's kicks would only wake it for nothing (one per message).
            queue.pollAfter(wait);
        }
    }

    /**
     * Checks a new message and holds it on its stream, or refuses it at once.
     */
    private void accept(final DeviceQueue queue, final DescriptorChain chain, final int direction, final long now)
    {
        if (chain.writableBytes() < PcmStatus.SIZE)
        {
            refuse(chain, "has " + chain.writableBytes() + " writable bytes, no room for the 8-byte status");
            queue.complete(chain, 0);
            return;
        }
        if (chain.readableBytes() < HeldIo.XFER_HEADER)
        {
            refuseWithStatus(queue, chain, "is shorter than its 4-byte header (" + chain.readableBytes() + " bytes)");
            return;
        }
        final long id;
        try
        {
            id = Integer.toUnsignedLong(chain.reader().readInt());
        }
        catch (final ChainAccessException e)
        {
            refuse(chain, "unreadable: " + e.getMessage());
            queue.complete(chain, 0);
            return;
        }
        if (id >= SoundDevice.STREAMS || streams[(int)id].direction() != direction)
        {
            refuseWithStatus(queue, chain, "names stream " + id + ", not a " + (direction == Snd.D_OUTPUT
                ? "playback" : "capture") + " stream");
            return;
        }
        final PcmStream s = streams[(int)id];
        if (!s.state.takesIo())
        {
            refuseWithStatus(queue, chain, "for stream " + id + " in state " + s.state);
            return;
        }
        final long payload = direction == Snd.D_OUTPUT ? chain.readableBytes() - HeldIo.XFER_HEADER
            : chain.writableBytes() - PcmStatus.SIZE;
        if (payload > s.params.bufferBytes() || payload % s.params.frameBytes() != 0)
        {
            refuseWithStatus(queue, chain, "carries " + payload + " bytes for stream " + id + ", not whole frames of "
                + s.params.frameBytes() + " bytes within its buffer of " + s.params.bufferBytes());
            return;
        }
        if (s.held.isFull())
        {
            refuseWithStatus(queue, chain, "exceeds the " + SoundDevice.QUEUE_SIZE + " messages stream " + id + " can hold");
            return;
        }
        if (s.state == PcmState.RUNNING && s.held.isEmpty())
        {
            // Ran dry for more than a period: the audio resumes now, not in the past (no burst to catch up). A
            // shorter lateness (the message was seen a little after its time) is made up for.
            if (now - s.clock.end() > s.clock.nanosOf(s.params.periodBytes()))
            {
                s.clock.resumeAfterGap(now);
            }
            s.xrunCounted = false;
        }
        s.held.add(chain, payload);
    }

    /**
     * The {@code direction} queue stops (vhost-user GET_VRING_BASE: a VM stop, the stop ahead of a reset): the
     * messages its streams hold go back on the ring untaken ({@link DeviceQueue#rewind}), so the base reported is the
     * first of them and the restarted ring reads them again; the streams keep their state and clock, so after the
     * VM's {@code cont} they are held again and played (or filled) in real time from then on, as after any gap. The
     * driver sees nothing: no message completes early (Linux's virtio_snd moves its hardware pointer on every
     * completion, whatever the status: messages given back unplayed made the guest's playback fail). A RELEASE not
     * yet answered is answered first (its messages back unplayed, as {@link #serveStream} would). Only sound when the
     * held messages are exactly the last chains taken from the ring; when another chain was completed after one of
     * them (a message refused or an invalid chain behind it: not a driver that follows the spec), they are completed
     * now with {@link Snd#S_IO_ERR} instead, before the base is read, so none is lost or completed twice.
     */
    void stopping(final DeviceQueue queue, final int direction)
    {
        final GuestMemory memory = queue.memory();
        int count = 0;
        int oldest = -1;
        for (final PcmStream s : streams)
        {
            if (s.direction() != direction)
            {
                continue;
            }
            if (s.flushPending)
            {
                s.flushPending = false;
                while (!s.held.isEmpty())
                {
                    complete(queue, memory, s, s.held.peek(), Snd.S_OK, false);
                    s.held.remove();
                }
            }
            if (!s.held.isEmpty())
            {
                final int first = s.held.peek().chain.availIndex();
                if (oldest < 0 || (short)(first - oldest) < 0)
                {
                    oldest = first;
                }
                count += s.held.size();
            }
        }
        if (count == 0)
        {
            return;
        }
        if (heldRunFrom(oldest, count, direction) && queue.rewind(oldest, count))
        {
            for (final PcmStream s : streams)
            {
                if (s.direction() == direction)
                {
                    s.held.clear();
                }
            }
            LOG.log(Level.INFO, name + ": " + count + " held " + (direction == Snd.D_OUTPUT ? "playback" : "capture")
                + " messages put back on the ring as it stops (its base goes back to avail index " + oldest
                + "); they are taken again when it restarts");
            return;
        }
        for (final PcmStream s : streams)
        {
            if (s.direction() == direction)
            {
                while (!s.held.isEmpty())
                {
                    complete(queue, memory, s, s.held.peek(), Snd.S_IO_ERR, false);
                    s.held.remove();
                }
            }
        }
        LOG.log(Level.WARNING, name + ": " + count + " held " + (direction == Snd.D_OUTPUT ? "playback" : "capture")
            + " messages returned with IO_ERR as the ring stops: other chains were completed after them, so the ring"
            + " cannot be rewound over them");
    }

    /**
     * @return whether the {@code count} messages the {@code direction} streams hold were taken from the avail ring
     *     positions {@code oldest} to {@code oldest + count - 1}, every position once (they are distinct chains, so
     *     all within that range is enough).
     */
    private boolean heldRunFrom(final int oldest, final int count, final int direction)
    {
        for (final PcmStream s : streams)
        {
            if (s.direction() != direction)
            {
                continue;
            }
            for (int i = 0; i < s.held.size(); i++)
            {
                final int at = s.held.get(i).chain.availIndex();
                if (at < 0 || ((at - oldest) & 0xFFFF) >= count)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Completes what is due on stream {@code s}.
     *
     * @return nanoseconds until something is due, or {@link Long#MAX_VALUE} for nothing.
     */
    private long serveStream(final DeviceQueue queue, final PcmStream s, final long now)
    {
        final GuestMemory memory = queue.memory();
        if (s.flushPending)
        {
            s.flushPending = false;
            while (!s.held.isEmpty())
            {
                complete(queue, memory, s, s.held.peek(), Snd.S_OK, false);
                s.held.remove();
            }
        }
        if (s.state != PcmState.RUNNING)
        {
            return Long.MAX_VALUE;
        }
        while (!s.held.isEmpty())
        {
            final HeldIo io = s.held.peek();
            final long due = s.clock.deadline(io.payload);
            if (due > now)
            {
                return due - now;
            }
            s.clock.consumed(io.payload);
            s.bytes += io.payload;
            s.lastNanos = now;
            s.held.remove();
            complete(queue, memory, s, io, Snd.S_OK, true);
        }
        if (s.xrunCounted)
        {
            return Long.MAX_VALUE;
        }
        final long xrunAt = s.clock.end() + s.clock.nanosOf(s.params.bufferBytes());
        if (now < xrunAt)
        {
            return xrunAt - now;
        }
        s.xrunCounted = true;
        s.xruns++;
        LOG.log(Level.WARNING, name + ": stream " + s.id + (s.direction() == Snd.D_OUTPUT ? " underrun" : " overrun")
            + ": no message for a whole buffer (" + s.params.bufferBytes() + " bytes); xrun " + s.xruns
            + (s.xrunEventsEnabled() ? ", the driver is told" : ""));
        if (s.xrunEventsEnabled())
        {
            events.post(Snd.EVT_PCM_XRUN, s.id);
        }
        return Long.MAX_VALUE;
    }

    /**
     * Moves the message's audio (when {@code transfer}), writes its status and returns it to the driver. Still
     * reachable after {@link HeldQueue#remove()}: the ring slot is reused only by a later add.
     */
    private void complete(final DeviceQueue queue, final GuestMemory memory, final PcmStream s, final HeldIo io,
        final int status, final boolean transfer)
    {
        final boolean output = s.direction() == Snd.D_OUTPUT;
        long written = PcmStatus.SIZE;
        try
        {
            if (transfer)
            {
                for (long off = 0; off < io.payload; off += SCRATCH)
                {
                    final long n = Math.min(SCRATCH, io.payload - off);
                    if (output)
                    {
                        io.readFrames(memory, off, scratch, n);
                        backend.write(s.id, scratch, n);
                    }
                    else
                    {
                        backend.read(s.id, scratch, n);
                        io.writeFrames(memory, off, scratch, n);
                    }
                }
                if (!output)
                {
                    written += io.payload;
                }
            }
            pcmStatus.wrap(statusBytes).set(status, (int)Math.min(s.held.bytes(), Integer.MAX_VALUE));
            io.writeStatus(memory, statusBytes);
        }
        catch (final GuestMemoryException e)
        {
            if (faults++ % 1000 == 0)
            {
                LOG.log(Level.WARNING, name + ": stream " + s.id + " message " + io.chain.head()
                    + " is no longer in guest memory: " + e.getMessage() + " (" + faults + " so far)");
            }
            written = 0;
        }
        queue.complete(io.chain, written);
    }

    private void refuseWithStatus(final DeviceQueue queue, final DescriptorChain chain, final String why)
    {
        refuse(chain, why);
        refused.chain.copyFrom(chain);
        pcmStatus.wrap(statusBytes).set(Snd.S_BAD_MSG, 0);
        long written = PcmStatus.SIZE;
        try
        {
            refused.writeStatus(queue.memory(), statusBytes);
        }
        catch (final GuestMemoryException e)
        {
            written = 0;
        }
        queue.complete(chain, written);
    }

    private void refuse(final DescriptorChain chain, final String why)
    {
        refusedMessages++;
        if (refusedMessages <= 10 || refusedMessages % 1000 == 0)
        {
            LOG.log(Level.WARNING, name + ": I/O message " + chain.head() + " refused (BAD_MSG): " + why + " ("
                + refusedMessages + " so far)");
        }
    }
}
