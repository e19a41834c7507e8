package io.jvhost.display.websocket;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;

/**
 * The server side of the opening handshake (RFC 6455 §4.2): checks a client's Upgrade request and computes
 * {@code Sec-WebSocket-Accept = base64(sha1(key + GUID))}.
 */
public final class WebSocketHandshake
{
    /** The GUID of RFC 6455 §1.3. */
    public static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    /** The subprotocol noVNC asked for before 1.7 (and websockify's binary mode). */
    public static final String BINARY = "binary";

    private WebSocketHandshake()
    {
    }

    /**
     * @return the Sec-WebSocket-Accept value for {@code key}.
     */
    public static String accept(final String key)
    {
        try
        {
            final MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            return Base64.getEncoder().encodeToString(sha1.digest((key + GUID).getBytes(StandardCharsets.US_ASCII)));
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException("SHA-1 is not available in this JDK", e);
        }
    }

    /**
     * @return why the request is not a valid WebSocket upgrade (RFC 6455 §4.2.1), or null when it is.
     */
    public static String problem(final String method, final String upgrade, final String connection,
        final String version, final String key)
    {
        if (!"GET".equals(method))
        {
            return "a WebSocket upgrade must be a GET, got " + method;
        }
        if (null == upgrade || !"websocket".equals(upgrade.trim().toLowerCase(Locale.ROOT)))
        {
            return "Upgrade must be websocket, got " + upgrade;
        }
        if (null == connection || !hasToken(connection, "upgrade"))
        {
            return "Connection must contain upgrade, got " + connection;
        }
        if (!"13".equals(null == version ? null : version.trim()))
        {
            return "Sec-WebSocket-Version must be 13, got " + version;
        }
        if (null == key)
        {
            return "Sec-WebSocket-Key is missing";
        }
        try
        {
            if (Base64.getDecoder().decode(key.trim()).length != 16)
            {
                return "Sec-WebSocket-Key must be 16 bytes in base64, got '" + key + "'";
            }
        }
        catch (final IllegalArgumentException e)
        {
            return "Sec-WebSocket-Key is not base64: '" + key + "'";
        }
        return null;
    }

    /**
     * @return {@link #BINARY} when the client offered it in Sec-WebSocket-Protocol, else null (no subprotocol).
     */
    public static String subprotocol(final String offered)
    {
        return null != offered && hasToken(offered, BINARY) ? BINARY : null;
    }

    private static boolean hasToken(final String list, final String token)
    {
        for (final String part : list.split(","))
        {
            if (part.trim().equalsIgnoreCase(token))
            {
                return true;
            }
        }
        return false;
    }
}
