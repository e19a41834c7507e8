package io.jvhost.display.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One request's response: {@link #respond} writes a complete response with a Content-Length; {@link #upgrade} writes a
 * {@code 101 Switching Protocols} and hands the connection to the caller (its buffered input may already hold the
 * first bytes of the new protocol).
 */
public final class HttpExchange
{
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final boolean head;
    private boolean keepAlive;
    private boolean responded;
    private boolean upgraded;
    private int status;

    HttpExchange(final Socket socket, final InputStream in, final OutputStream out, final boolean head,
        final boolean keepAlive)
    {
        this.socket = socket;
        this.in = in;
        this.out = out;
        this.head = head;
        this.keepAlive = keepAlive;
    }

    /**
     * Sends a whole response; for HEAD the body is left out (its length still given).
     */
    public void respond(final int code, final String contentType, final byte[] body, final Map<String, String> extra)
        throws IOException
    {
        if (responded)
        {
            throw new IllegalStateException("response already sent (status " + status + ")");
        }
        responded = true;
        status = code;
        final StringBuilder sb = new StringBuilder(256);
        sb.append("HTTP/1.1 ").append(code).append(' ').append(reason(code)).append("\r\n");
        if (null != contentType)
        {
            sb.append("Content-Type: ").append(contentType).append("\r\n");
        }
        sb.append("Content-Length: ").append(body.length).append("\r\n");
        sb.append("X-Content-Type-Options: nosniff\r\n");
        for (final Map.Entry<String, String> e : extra.entrySet())
        {
            sb.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        }
        sb.append(keepAlive ? "" : "Connection: close\r\n").append("\r\n");
        out.write(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (!head)
        {
            out.write(body);
        }
        out.flush();
    }

    /**
     * Ends the connection after the response (sent with {@code Connection: close}), e.g. for a request that was not
     * meant for this server. Call before responding.
     */
    public void closeAfterResponse()
    {
        keepAlive = false;
    }

    /**
     * @return whether the connection serves another request after this one.
     */
    boolean keepAlive()
    {
        return keepAlive;
    }

    /**
     * A short plain-text response (errors).
     */
    public void respond(final int code, final String text) throws IOException
    {
        respond(code, "text/plain; charset=utf-8", (text + "\n").getBytes(StandardCharsets.UTF_8), Map.of());
    }

    /**
     * Sends {@code 101 Switching Protocols} with {@code headers} and gives up the connection: the caller owns the
     * socket from now on and must close it.
     */
    public void upgrade(final Map<String, String> headers) throws IOException
    {
        if (responded)
        {
            throw new IllegalStateException("response already sent (status " + status + ")");
        }
        responded = true;
        upgraded = true;
        status = 101;
        final StringBuilder sb = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\n");
        for (final Map.Entry<String, String> e : headers.entrySet())
        {
            sb.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
        }
        sb.append("\r\n");
        out.write(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /**
     * @return the connection's input, positioned after the request head (for an upgraded connection).
     */
    public InputStream input()
    {
        return in;
    }

    /**
     * @return the connection's output.
     */
    public OutputStream output()
    {
        return out;
    }

    public Socket socket()
    {
        return socket;
    }

    boolean responded()
    {
        return responded;
    }

    boolean upgraded()
    {
        return upgraded;
    }

    public int status()
    {
        return status;
    }

    static String reason(final int code)
    {
        return switch (code)
        {
            case 101 -> "Switching Protocols";
            case 200 -> "OK";
            case 204 -> "No Content";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Content Too Large";
            case 421 -> "Misdirected Request";
            case 426 -> "Upgrade Required";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 503 -> "Service Unavailable";
            default -> "Status";
        };
    }
}
