package io.jvhost.device.sound;

/**
 * One PCM stream's state: what it offers, its lifecycle, its parameters, the messages it holds and its clock.
 */
final class PcmStream
{
    final int id;
    final StreamCaps caps;
    final HeldQueue held;
    final StreamClock clock = new StreamClock();
    PcmState state = PcmState.IDLE;
    PcmParams params;
    /** RELEASE (or a reset of the host side) asks for every held message to be returned. */
    boolean flushPending;
    /** The running stream ran dry and the xrun for it was counted. */
    boolean xrunCounted;
    long xruns;
    /** Payload bytes consumed or produced since PREPARE. */
    long bytes;
    long startedNanos;
    long lastNanos;

    PcmStream(final int id, final StreamCaps caps, final int heldCapacity, final int maxDescriptors)
    {
        this.id = id;
        this.caps = caps;
        this.held = new HeldQueue(heldCapacity, maxDescriptors);
    }

    int direction()
    {
        return caps.direction();
    }

    boolean xrunEventsEnabled()
    {
        return null != params && (params.features() & 1 << Snd.PCM_F_EVT_XRUNS) != 0;
    }

    void reset()
    {
        state = PcmState.IDLE;
        params = null;
        flushPending = false;
        xrunCounted = false;
        held.clear();
    }
}
