package io.jvhost.device.sound;

/**
 * A PCM stream's command lifecycle (virtio 1.2, 5.14.6.6.1): which control request each state accepts, and where it
 * leads. A request in a state that does not accept it is answered {@link Snd#S_BAD_MSG} and changes nothing.
 * <pre>
 *            SET_PARAMS           PREPARE            START
 *  IDLE ─────────────> PARAMS_SET ───────> PREPARED ───────> RUNNING
 *   ▲ SET_PARAMS from PARAMS_SET,  ▲   │ RELEASE      ▲  STOP │
 *   │ PREPARED and RELEASED        │   ▼              │ START ▼
 *   │                    PREPARE   RELEASED <──────── STOPPED
 *                                           RELEASE
 * </pre>
 */
public enum PcmState
{
    /** Nothing set since the device was reset. */
    IDLE,
    /** Parameters set, nothing prepared. */
    PARAMS_SET,
    /** Host side ready; I/O messages are held until START. */
    PREPARED,
    /** Consuming (playback) or producing (capture) in real time. */
    RUNNING,
    /** Paused by STOP: held messages stay held. */
    STOPPED,
    /** Host side released; every held message was returned. */
    RELEASED;

    /**
     * @return whether this state accepts control request {@code code} (one of the PCM_* codes that change state).
     */
    public boolean accepts(final int code)
    {
        return switch (code)
        {
            case Snd.R_PCM_SET_PARAMS -> this == IDLE || this == PARAMS_SET || this == PREPARED || this == RELEASED;
            case Snd.R_PCM_PREPARE -> this == PARAMS_SET || this == PREPARED || this == RELEASED;
            case Snd.R_PCM_START -> this == PREPARED || this == STOPPED;
            case Snd.R_PCM_STOP -> this == RUNNING;
            case Snd.R_PCM_RELEASE -> this == PREPARED || this == STOPPED;
            default -> false;
        };
    }

    /**
     * @return the state after {@code code} was accepted here.
     */
    public PcmState after(final int code)
    {
        return switch (code)
        {
            case Snd.R_PCM_SET_PARAMS -> PARAMS_SET;
            case Snd.R_PCM_PREPARE -> PREPARED;
            case Snd.R_PCM_START -> RUNNING;
            case Snd.R_PCM_STOP -> STOPPED;
            case Snd.R_PCM_RELEASE -> RELEASED;
            default -> throw new IllegalArgumentException("not a lifecycle request: " + Snd.requestName(code));
        };
    }

    /**
     * @return whether I/O messages are taken in this state (held until START, consumed while running).
     */
    public boolean takesIo()
    {
        return this == PREPARED || this == RUNNING || this == STOPPED;
    }
}
