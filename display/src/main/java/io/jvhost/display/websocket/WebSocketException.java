package io.jvhost.display.websocket;

import java.io.IOException;

/**
 * The peer broke RFC 6455; {@link #code()} is the close status sent to it (1002 protocol error, 1003 unsupported data,
 * 1009 too big).
 */
public final class WebSocketException extends IOException
{
    private final int code;

    public WebSocketException(final int code, final String message)
    {
        super(message + " (close " + code + ")");
        this.code = code;
    }

    public int code()
    {
        return code;
    }
}
