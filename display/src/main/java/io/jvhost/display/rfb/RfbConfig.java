package io.jvhost.display.rfb;

import java.util.Objects;
import java.util.Random;

import io.jvhost.device.MemoryBudget;

/**
 * What every RFB session of a server shares.
 *
 * @param desktopName      the name in ServerInit.
 * @param password         the VNC Authentication password, or null for security type None.
 * @param input            where key and pointer events go.
 * @param random           the source of VNC Authentication challenges (a SecureRandom outside tests).
 * @param handshakeMillis  how long a client may take for each handshake step before it is dropped.
 * @param authFailureDelayMillis how long a failed authentication is held before the answer (slows guessing).
 * @param budget           what each session's buffers are reserved from: the device's memory budget.
 * @param resizer          where viewers' SetDesktopSize requests go.
 * @param resizeReplyMillis how long a SetDesktopSize passed to the guest waits for the guest to switch before it is
 *                         answered "forwarded".
 */
public record RfbConfig(String desktopName, String password, InputForwarder input, Random random,
    int handshakeMillis, int authFailureDelayMillis, MemoryBudget budget, DesktopResizer resizer,
    int resizeReplyMillis)
{
    /** Default {@link #resizeReplyMillis}: a guest under TCG takes a second or two to switch. */
    public static final int DEFAULT_RESIZE_REPLY_MILLIS = 10_000;

    public RfbConfig
    {
        Objects.requireNonNull(desktopName, "desktopName");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(random, "random");
        Objects.requireNonNull(budget, "budget");
        Objects.requireNonNull(resizer, "resizer");
        if (resizeReplyMillis < 1)
        {
            throw new IllegalArgumentException("resizeReplyMillis must be positive, got " + resizeReplyMillis);
        }
        if (null != password && password.isEmpty())
        {
            throw new IllegalArgumentException("the VNC password must not be empty (leave it unset for none)");
        }
    }

    /**
     * Viewers that cannot resize the guest.
     */
    public RfbConfig(final String desktopName, final String password, final InputForwarder input,
        final Random random, final int handshakeMillis, final int authFailureDelayMillis, final MemoryBudget budget)
    {
        this(desktopName, password, input, random, handshakeMillis, authFailureDelayMillis, budget,
            DesktopResizer.PROHIBITED, DEFAULT_RESIZE_REPLY_MILLIS);
    }

    /**
     * Sessions whose buffers are not accounted (tests, tools).
     */
    public RfbConfig(final String desktopName, final String password, final InputForwarder input,
        final Random random, final int handshakeMillis, final int authFailureDelayMillis)
    {
        this(desktopName, password, input, random, handshakeMillis, authFailureDelayMillis,
            MemoryBudget.unlimited(desktopName));
    }
}
