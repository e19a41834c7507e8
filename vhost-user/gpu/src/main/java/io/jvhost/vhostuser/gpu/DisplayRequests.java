package io.jvhost.vhostuser.gpu;

import java.lang.System.Logger.Level;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;

import io.jvhost.device.gpu.DisplayMode;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuProtocolFeature;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * The request side of QEMU's display socket: the protocol-feature handshake, the guest's GET_DISPLAY_INFO and GET_EDID
 * requests from queued to answered, their deadlines, and the matching of QEMU's replies to them.
 * <p>
 * <b>Order.</b> GET_PROTOCOL_FEATURES goes first; SET_PROTOCOL_FEATURES follows QEMU's answer (EDID kept when
 * offered, DMABUF2 never asked for: pixels travel in UPDATE messages). Until then {@link #composeLocked} answers
 * {@link #HANDSHAKE_PENDING}: as QEMU's C back-end, the display sends nothing else, since a SCANOUT or pixels ahead of
 * SET_PROTOCOL_FEATURES would reach QEMU before the features they depend on. Requests then go in FIFO order and
 * replies are matched to them in order. QEMU silently drops a GET_EDID for a scanout beyond its {@code max_outputs},
 * and an EDID reply does not name its scanout, so every GET_EDID is followed by a GET_PROTOCOL_FEATURES that QEMU
 * always answers: its reply arriving first proves the GET_EDID was dropped.
 * <p>
 * <b>Deadlines.</b> Each request has one; when it passes, the callback gets null, so a silent QEMU cannot hang a
 * guest command. A sent request stays in line after its deadline so that a late reply still matches its place.
 * <p>
 * <b>Threads.</b> Guarded by the display's lock, which it is given: methods named {@code ...Locked} run with it held,
 * {@link #onReply} takes it itself. Callbacks never run under the lock: settled ones collect in a list the writer
 * takes ({@link #takeCompletionsLocked}) or are run by {@link #onReply} after it let go of the lock.
 */
final class DisplayRequests
{
    private static final System.Logger LOG = System.getLogger(DisplayRequests.class.getName());

    /** {@link #composeLocked}: nothing may go to QEMU before the handshake ends. */
    static final long HANDSHAKE_PENDING = -1;
    private static final int MAX_WAIT_MS = 1000;

    /**
     * Told the deadline of every request that goes out (to re-arm a sleeping writer's timer).
     */
    interface DeadlineListener
    {
        void awaiting(long deadline);
    }

    /**
     * A request waiting to be sent or answered.
     */
    static final class Pending
    {
        final int request;
        final int scanout;
        final Consumer<?> done;
        final long deadline;
        /** A GET_PROTOCOL_FEATURES sent only as a marker after a GET_EDID: its answer is not used. */
        final boolean sync;
        boolean expired;

        Pending(final int request, final int scanout, final Consumer<?> done, final long deadline, final boolean sync)
        {
            this.request = request;
            this.scanout = scanout;
            this.done = done;
            this.deadline = deadline;
            this.sync = sync;
        }
    }

    private final String name;
    private final Object lock;
    private final long replyTimeoutNanos;
    private final DeadlineListener deadlines;
    private final ArrayDeque<Pending> queued = new ArrayDeque<>();
    private final ArrayDeque<Pending> awaiting = new ArrayDeque<>();
    /** Callbacks settled while composing or expiring (under the lock); the writer runs them outside it. */
    private final ArrayList<Pending> completions = new ArrayList<>();
    private boolean featuresRequested;
    private boolean syncPending;
    private boolean featuresKnown;
    private boolean setFeaturesPending;
    private long offeredFeatures;
    private long negotiatedFeatures;

    DisplayRequests(final String name, final Object lock, final long replyTimeoutNanos,
        final DeadlineListener deadlines)
    {
        this.name = name;
        this.lock = lock;
        this.replyTimeoutNanos = replyTimeoutNanos;
        this.deadlines = deadlines;
    }

    /**
     * Queues {@code request} (GET_DISPLAY_INFO, or GET_EDID for {@code scanout}).
     *
     * @return false when QEMU is known not to offer EDID (for GET_EDID), or {@code max} requests are outstanding.
     */
    boolean submitLocked(final int request, final int scanout, final Consumer<?> done, final int max)
    {
        if (request == GpuRequest.GET_EDID && featuresKnown
            && !GpuProtocolFeature.has(negotiatedFeatures, GpuProtocolFeature.EDID))
        {
            return false;
        }
        if (queued.size() + awaiting.size() >= max)
        {
            LOG.log(Level.WARNING, name + ": " + GpuRequest.name(request) + " refused: " + max
                + " requests already outstanding (QEMU is not answering)");
            return false;
        }
        queued.add(new Pending(request, scanout, done, System.nanoTime() + replyTimeoutNanos, false));
        return true;
    }

    /**
     * @return the protocol features in use, or -1 until QEMU answered GET_PROTOCOL_FEATURES (or it timed out).
     */
    long negotiatedLocked()
    {
        return featuresKnown ? negotiatedFeatures : -1;
    }

    /**
     * @return the protocol features QEMU offered, or -1 until it answered.
     */
    long offeredLocked()
    {
        return featuresKnown ? offeredFeatures : -1;
    }

    /**
     * @return true when {@link #composeLocked} has a message to compose.
     */
    boolean hasWorkLocked()
    {
        return !featuresRequested || syncPending || setFeaturesPending || (featuresKnown && !queued.isEmpty());
    }

    /**
     * Composes the next handshake message or request into {@code out}.
     *
     * @return its length; 0 when there is none and other messages may go; {@link #HANDSHAKE_PENDING} when nothing may
     *     go yet.
     */
    long composeLocked(final OutgoingMessage out)
    {
        if (!featuresRequested)
        {
            featuresRequested = true;
            awaitReply(new Pending(GpuRequest.GET_PROTOCOL_FEATURES, -1, null,
                System.nanoTime() + replyTimeoutNanos, false));
            return out.controlMessage(GpuRequest.GET_PROTOCOL_FEATURES, 0);
        }
        if (syncPending)
        {
            syncPending = false;
            awaitReply(new Pending(GpuRequest.GET_PROTOCOL_FEATURES, -1, null,
                System.nanoTime() + replyTimeoutNanos, true));
            return out.controlMessage(GpuRequest.GET_PROTOCOL_FEATURES, 0);
        }
        if (setFeaturesPending)
        {
            setFeaturesPending = false;
            out.putU64(0, negotiatedFeatures);
            return out.controlMessage(GpuRequest.SET_PROTOCOL_FEATURES, GpuPayloads.U64_SIZE);
        }
        if (!featuresKnown)
        {
            return HANDSHAKE_PENDING;
        }
        final boolean edid = GpuProtocolFeature.has(negotiatedFeatures, GpuProtocolFeature.EDID);
        while (!queued.isEmpty())
        {
            final Pending p = queued.poll();
            if (p.request == GpuRequest.GET_EDID && !edid)
            {
                completions.add(p);
                continue;
            }
            awaitReply(p);
            if (p.request == GpuRequest.GET_EDID)
            {
                out.putU32(GpuPayloads.EDID_REQUEST_SCANOUT_ID, p.scanout);
                syncPending = true;
                return out.controlMessage(GpuRequest.GET_EDID, GpuPayloads.EDID_REQUEST_SIZE);
            }
            return out.controlMessage(p.request, 0);
        }
        return 0;
    }

    private void awaitReply(final Pending p)
    {
        awaiting.add(p);
        deadlines.awaiting(p.deadline);
    }

    /**
     * Times out requests: queued ones are dropped, sent ones stay in line (so later replies still match in order)
     * with their callback completed by the writer.
     */
    void expireLocked(final long now)
    {
        if (!queued.isEmpty())
        {
            for (final Iterator<Pending> it = queued.iterator(); it.hasNext(); )
            {
                final Pending p = it.next();
                if (now - p.deadline >= 0)
                {
                    LOG.log(Level.WARNING, name + ": " + GpuRequest.name(p.request) + " not sent within "
                        + replyTimeoutNanos / 1_000_000 + " ms; answering without QEMU");
                    completions.add(p);
                    it.remove();
                }
            }
        }
        for (final Pending p : awaiting)
        {
            if (!p.expired && now - p.deadline >= 0)
            {
                p.expired = true;
                if (p.sync)
                {
                    continue;
                }
                LOG.log(Level.WARNING, name + ": QEMU did not answer " + GpuRequest.name(p.request) + " within "
                    + replyTimeoutNanos / 1_000_000 + " ms" + (p.request == GpuRequest.GET_PROTOCOL_FEATURES
                    ? "; continuing without protocol features" : "; answering without QEMU"));
                if (p.request == GpuRequest.GET_PROTOCOL_FEATURES)
                {
                    featuresKnown = true;
                    offeredFeatures = 0;
                    negotiatedFeatures = 0;
                    setFeaturesPending = true;
                }
                else
                {
                    completions.add(p);
                }
            }
        }
    }

    /**
     * @return milliseconds (1..1000) until the next deadline, or -1 when no request waits.
     */
    long waitMillisLocked(final long now)
    {
        long next = Long.MAX_VALUE;
        for (final Pending p : queued)
        {
            next = Math.min(next, p.deadline - now);
        }
        for (final Pending p : awaiting)
        {
            if (!p.expired)
            {
                next = Math.min(next, p.deadline - now);
            }
        }
        if (next == Long.MAX_VALUE)
        {
            return -1;
        }
        return Math.max(1, Math.min(MAX_WAIT_MS, (next + 999_999) / 1_000_000));
    }

    /**
     * @return true when settled callbacks wait for the writer.
     */
    boolean hasCompletionsLocked()
    {
        return !completions.isEmpty();
    }

    /**
     * Moves the settled callbacks to {@code into} (the writer's batch, run outside the lock with {@link #completeAll}).
     */
    void takeCompletionsLocked(final List<Pending> into)
    {
        if (!completions.isEmpty())
        {
            into.addAll(completions);
            completions.clear();
        }
    }

    /**
     * Every request not yet settled, removed (the display closes or went away); complete them with {@link
     * #completeAll}.
     */
    List<Pending> drainLocked()
    {
        final List<Pending> pending = new ArrayList<>(queued);
        for (final Pending p : awaiting)
        {
            if (!p.expired)
            {
                pending.add(p);
            }
        }
        queued.clear();
        awaiting.clear();
        return pending;
    }

    /**
     * A reply from QEMU, on the thread reading them; completes the request it answers (outside the lock).
     *
     * @return true when it answered the handshake (the writer may have SET_PROTOCOL_FEATURES and what waited for it).
     */
    boolean onReply(final Message msg)
    {
        final int request = msg.request();
        final int flags = msg.flags();
        final int size = msg.size();
        if ((flags & GpuRequest.REPLY_FLAGS) == 0)
        {
            LOG.log(Level.WARNING, name + ": QEMU sent request " + GpuRequest.name(request) + " (flags=0x"
                + Integer.toHexString(flags) + ", size=" + size + ") on the display socket; ignored");
            return false;
        }
        if (flags != GpuRequest.REPLY_FLAGS)
        {
            LOG.log(Level.WARNING, name + ": reply " + GpuRequest.name(request) + " has flags 0x"
                + Integer.toHexString(flags) + ", expected 0x4; accepted");
        }
        final Pending match;
        final boolean expired;
        List<Pending> skipped = null;
        synchronized (lock)
        {
            // QEMU answers in order. The one request it may skip is GET_EDID (invalid scanout): a reply of another
            // type while a GET_EDID heads the line means that GET_EDID was dropped.
            Pending head = awaiting.peek();
            while (null != head && head.request != request && head.request == GpuRequest.GET_EDID)
            {
                awaiting.poll();
                if (!head.expired)
                {
                    if (null == skipped)
                    {
                        skipped = new ArrayList<>();
                    }
                    skipped.add(head);
                }
                head = awaiting.peek();
            }
            if (null == head || head.request != request)
            {
                match = null;
                expired = false;
            }
            else
            {
                match = awaiting.poll();
                expired = match.expired || match.sync;
                if (request == GpuRequest.GET_PROTOCOL_FEATURES && !expired)
                {
                    takeFeaturesLocked(msg);
                }
            }
        }
        if (null != skipped)
        {
            for (final Pending p : skipped)
            {
                LOG.log(Level.WARNING, name + ": QEMU dropped GET_EDID for scanout " + p.scanout
                    + " (beyond its max_outputs?); answering without QEMU");
            }
            completeAll(skipped);
        }
        if (null == match)
        {
            LOG.log(Level.WARNING, name + ": unexpected reply " + GpuRequest.name(request) + " (size=" + size
                + "): not what the next outstanding request expects; ignored");
            return false;
        }
        if (match.sync)
        {
            return false;
        }
        if (request == GpuRequest.GET_PROTOCOL_FEATURES)
        {
            return true;
        }
        if (expired)
        {
            LOG.log(Level.INFO, name + ": late reply to " + GpuRequest.name(request) + " dropped");
            return false;
        }
        switch (request)
        {
            case GpuRequest.GET_DISPLAY_INFO -> complete(match, decodeDisplayInfo(msg));
            case GpuRequest.GET_EDID -> complete(match, decodeEdid(msg));
            default -> complete(match, null);
        }
        return false;
    }

    private void takeFeaturesLocked(final Message msg)
    {
        if (msg.size() != GpuPayloads.U64_SIZE)
        {
            LOG.log(Level.WARNING, name + ": GET_PROTOCOL_FEATURES reply has size " + msg.size()
                + ", expected 8; continuing without protocol features");
            offeredFeatures = 0;
        }
        else
        {
            offeredFeatures = msg.u64(0);
        }
        negotiatedFeatures = offeredFeatures & GpuProtocolFeature.bit(GpuProtocolFeature.EDID);
        featuresKnown = true;
        setFeaturesPending = true;
        LOG.log(Level.INFO, name + ": display protocol features offered 0x" + Long.toHexString(offeredFeatures)
            + ", using 0x" + Long.toHexString(negotiatedFeatures));
    }

    private DisplayMode[] decodeDisplayInfo(final Message msg)
    {
        if (msg.size() != GpuPayloads.DISPLAY_INFO_SIZE
            || msg.u32(GpuPayloads.CTRL_HDR_TYPE) != GpuPayloads.RESP_OK_DISPLAY_INFO)
        {
            LOG.log(Level.WARNING, name + ": bad GET_DISPLAY_INFO reply: size=" + msg.size() + " (expected "
                + GpuPayloads.DISPLAY_INFO_SIZE + "), type=0x" + Integer.toHexString(msg.u32(0)) + " (expected 0x"
                + Integer.toHexString(GpuPayloads.RESP_OK_DISPLAY_INFO) + ")");
            return null;
        }
        final DisplayMode[] modes = new DisplayMode[GpuPayloads.MAX_SCANOUTS];
        for (int i = 0; i < modes.length; i++)
        {
            final int o = GpuPayloads.pmodeOffset(i);
            modes[i] = new DisplayMode(msg.u32(o + GpuPayloads.PMODE_X), msg.u32(o + GpuPayloads.PMODE_Y),
                msg.u32(o + GpuPayloads.PMODE_WIDTH), msg.u32(o + GpuPayloads.PMODE_HEIGHT),
                msg.u32(o + GpuPayloads.PMODE_ENABLED) != 0);
        }
        return modes;
    }

    private byte[] decodeEdid(final Message msg)
    {
        final int size = msg.size() == GpuPayloads.EDID_REPLY_SIZE ? msg.u32(GpuPayloads.EDID_REPLY_SIZE_FIELD) : -1;
        if (msg.size() != GpuPayloads.EDID_REPLY_SIZE || msg.u32(GpuPayloads.CTRL_HDR_TYPE) != GpuPayloads.RESP_OK_EDID
            || size <= 0 || size > GpuPayloads.EDID_MAX_SIZE)
        {
            LOG.log(Level.WARNING, name + ": bad GET_EDID reply: size=" + msg.size() + " (expected "
                + GpuPayloads.EDID_REPLY_SIZE + "), type=0x" + Integer.toHexString(msg.u32(0)) + ", edid size="
                + size + " (expected 1.." + GpuPayloads.EDID_MAX_SIZE + ")");
            return null;
        }
        return msg.payload(GpuPayloads.EDID_REPLY_DATA, size).toArray(ValueLayout.JAVA_BYTE);
    }

    @SuppressWarnings("unchecked")
    private void complete(final Pending p, final Object value)
    {
        if (null == p.done)
        {
            return;
        }
        try
        {
            ((Consumer<Object>)p.done).accept(value);
        }
        catch (final RuntimeException e)
        {
            LOG.log(Level.ERROR, name + ": " + GpuRequest.name(p.request) + " callback failed: " + e, e);
        }
    }

    /**
     * Completes with null every request in {@code settled} (from {@link #takeCompletionsLocked} or {@link
     * #drainLocked}), outside the lock, and empties it.
     */
    void completeAll(final List<Pending> settled)
    {
        if (settled.isEmpty())
        {
            return;
        }
        for (int i = 0; i < settled.size(); i++)
        {
            complete(settled.get(i), null);
        }
        settled.clear();
    }
}
