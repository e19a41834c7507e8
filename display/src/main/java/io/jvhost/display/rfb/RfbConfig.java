package io.jvhost.display.rfb;

import java.util.Objects;
import java.util.Random;

/**
 * What every RFB session of a server shares.
 *
 * @param desktopName      the name in ServerInit.
 * @param password         the VNC Authentication password, or null for security type None.
 * @param input            where key and pointer events go.
 * @param random           the source of VNC Authentication challenges (a SecureRandom outside tests).
 * @param handshakeMillis  how long a client may take for each handshake step before it is dropped.
 * @param authFailureDelayMillis how long a failed authentication is held before the answer (slows guessing).
 */
public record RfbConfig(String desktopName, String password, InputForwarder input, Random random,
    int handshakeMillis, int authFailureDelayMillis)
{
    public RfbConfig
    {
        Objects.requireNonNull(desktopName, "desktopName");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(random, "random");
        if (null != password && password.isEmpty())
        {
            throw new IllegalArgumentException("the VNC password must not be empty (leave it unset for none)");
        }
    }
}
