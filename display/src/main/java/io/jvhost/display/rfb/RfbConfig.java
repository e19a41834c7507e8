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
 */
public record RfbConfig(String desktopName, String password, InputForwarder input, Random random,
    int handshakeMillis, int authFailureDelayMillis, MemoryBudget budget)
{
    public RfbConfig
    {
        Objects.requireNonNull(desktopName, "desktopName");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(random, "random");
        Objects.requireNonNull(budget, "budget");
        if (null != password && password.isEmpty())
        {
            throw new IllegalArgumentException("the VNC password must not be empty (leave it unset for none)");
        }
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
