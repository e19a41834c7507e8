package io.jvhost.display.http;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import io.jvhost.display.TcpAcceptor;
import io.jvhost.os.ThreadTop;

/**
 * A small HTTP/1.1 server for the web console: GET and HEAD only, keep-alive, one virtual thread per connection, and
 * connections a handler may take over (WebSocket). Request heads are bounded ({@link #MAX_LINE} bytes a line,
 * {@link #MAX_HEADERS} headers); a client that breaks HTTP (request line, header syntax, percent-encoding) gets a 400
 * and is disconnected with one log line, others are unaffected. A handler that fails, even with an Error, costs its
 * client a 500 and the connection, with one log line naming both; the server goes on.
 */
public final class HttpServer implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(HttpServer.class.getName());

    public static final int MAX_LINE = 8192;
    public static final int MAX_HEADERS = 100;
    /** How long an idle keep-alive connection (or a slow request head) is kept. */
    public static final int IDLE_MILLIS = 30_000;
    /** The most connections open at once (upgraded ones included). */
    public static final int MAX_CONNECTIONS = 256;
    private static final Pattern VERSION = Pattern.compile("HTTP/1\\.[01]");

    private final String name;
    private final HttpHandler handler;
    private final TcpAcceptor acceptor;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * Binds and starts accepting.
     *
     * @throws IOException naming the address when it cannot be bound.
     */
    public HttpServer(final String name, final InetSocketAddress address, final HttpHandler handler)
        throws IOException
    {
        this.name = Objects.requireNonNull(name, "name");
        this.handler = Objects.requireNonNull(handler, "handler");
        this.acceptor = new TcpAcceptor(name, "HTTP", address, 64, this::admit);
    }

    /**
     * @return the bound address (with the real port when 0 was asked for).
     */
    public InetSocketAddress address()
    {
        return acceptor.address();
    }

    /**
     * On the accept thread: refuses the connection past {@link #MAX_CONNECTIONS}, else serves it on a virtual thread.
     */
    private void admit(final Socket socket)
    {
        if (open.size() >= MAX_CONNECTIONS)
        {
            LOG.log(Level.WARNING, name + ": refused " + socket.getRemoteSocketAddress() + ": "
                + MAX_CONNECTIONS + " connections open");
            closeQuietly(socket);
            return;
        }
        open.add(socket);
        try
        {
            final String client = name + ": HTTP client " + socket.getRemoteSocketAddress();
            Thread.ofVirtual().name(name + "-http-client").start(ThreadTop.guarded(client, () -> serve(socket)));
        }
        catch (final RuntimeException | Error e)
        {
            open.remove(socket);
            throw e;
        }
    }

    private void serve(final Socket socket)
    {
        boolean handedOver = false;
        try
        {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(IDLE_MILLIS);
            final InputStream in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
            final OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
            while (!closed)
            {
                final HttpRequest request;
                try
                {
                    request = readRequest(in);
                }
                catch (final BadRequest e)
                {
                    LOG.log(Level.INFO, () -> name + ": bad request from " + socket.getRemoteSocketAddress() + ": "
                        + e.getMessage());
                    new HttpExchange(socket, in, out, false, false).respond(e.status, e.getMessage());
                    return;
                }
                if (null == request)
                {
                    return;
                }
                final boolean head = "HEAD".equals(request.method());
                final HttpExchange exchange = new HttpExchange(socket, in, out, head, request.keepAlive());
                if (!"GET".equals(request.method()) && !head)
                {
                    exchange.respond(405, "method " + request.method() + " is not allowed: GET or HEAD only");
                    return;
                }
                try
                {
                    handler.handle(request, exchange);
                }
                catch (final RuntimeException | Error e)
                {
                    LOG.log(Level.ERROR, name + ": " + request + " from " + socket.getRemoteSocketAddress()
                        + " failed: " + ThreadTop.describe(e));
                    if (!exchange.responded())
                    {
                        exchange.respond(500, "internal error");
                    }
                    return;
                }
                if (exchange.upgraded())
                {
                    handedOver = true;
                    return;
                }
                if (!exchange.responded())
                {
                    exchange.respond(500, "no response");
                    return;
                }
                if (!exchange.keepAlive())
                {
                    return;
                }
            }
        }
        catch (final SocketTimeoutException e)
        {
            // Idle keep-alive connection: close it.
        }
        catch (final IOException e)
        {
            LOG.log(Level.DEBUG, () -> name + ": connection " + socket.getRemoteSocketAddress() + " ended: "
                + e.getMessage());
        }
        finally
        {
            open.remove(socket);
            if (!handedOver)
            {
                closeQuietly(socket);
            }
        }
    }

    /**
     * @return the next request head, or null when the client closed the connection between requests.
     */
    static HttpRequest readRequest(final InputStream in) throws IOException
    {
        String line = readLine(in, true);
        // RFC 9112 §2.2: ignore empty lines before a request line.
        while (null != line && line.isEmpty())
        {
            line = readLine(in, true);
        }
        if (null == line)
        {
            return null;
        }
        final String[] parts = line.split(" ", -1);
        if (parts.length != 3 || !isToken(parts[0]) || parts[1].isEmpty() || !VERSION.matcher(parts[2]).matches())
        {
            throw new BadRequest(400, "bad request line '" + abbreviate(line) + "'");
        }
        if (!parts[1].startsWith("/"))
        {
            throw new BadRequest(400, "request target must be a path, got '" + abbreviate(parts[1]) + "'");
        }
        final Map<String, String> headers = new LinkedHashMap<>();
        int count = 0;
        while (true)
        {
            final String h = readLine(in, false);
            if (h.isEmpty())
            {
                break;
            }
            if (++count > MAX_HEADERS)
            {
                throw new BadRequest(431, "more than " + MAX_HEADERS + " headers");
            }
            final int colon = h.indexOf(':');
            // RFC 9112 §5.1: a field name is a token, with no white space before the colon (nor folded lines).
            if (colon <= 0 || !isToken(h.substring(0, colon)))
            {
                throw new BadRequest(400, "bad header line '" + abbreviate(h) + "'");
            }
            final String key = h.substring(0, colon).toLowerCase(Locale.ROOT);
            final String value = h.substring(colon + 1).trim();
            headers.merge(key, value, (a, b) -> a + ", " + b);
        }
        if (headers.containsKey("transfer-encoding"))
        {
            throw new BadRequest(400, "request bodies are not accepted (Transfer-Encoding "
                + headers.get("transfer-encoding") + ")");
        }
        final String length = headers.get("content-length");
        if (null != length && !"0".equals(length.trim()))
        {
            throw new BadRequest(413, "request bodies are not accepted (Content-Length " + length + ")");
        }
        return new HttpRequest(parts[0], parts[1], parts[2], headers);
    }

    /**
     * @return a line without its CRLF (or LF); null at end of stream before any byte when {@code eofOk}.
     */
    private static String readLine(final InputStream in, final boolean eofOk) throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true)
        {
            final int b = in.read();
            if (b < 0)
            {
                if (eofOk && line.size() == 0)
                {
                    return null;
                }
                throw new BadRequest(400, "connection ended inside the request head");
            }
            if (b == '\n')
            {
                break;
            }
            if (line.size() >= MAX_LINE)
            {
                throw new BadRequest(431, "request head line longer than " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
        final byte[] bytes = line.toByteArray();
        final int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        for (int i = 0; i < end; i++)
        {
            final int c = bytes[i] & 0xFF;
            if (c < 0x20 && c != '\t' || c == 0x7F)
            {
                throw new BadRequest(400, "control character 0x" + Integer.toHexString(c) + " in the request head");
            }
        }
        return new String(bytes, 0, end, StandardCharsets.ISO_8859_1);
    }

    /**
     * @return whether {@code s} is an RFC 9110 token (a method or a field name).
     */
    private static boolean isToken(final String s)
    {
        if (s.isEmpty())
        {
            return false;
        }
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                || "!#$%&'*+-.^_`|~".indexOf(c) >= 0))
            {
                return false;
            }
        }
        return true;
    }

    static String abbreviate(final String s)
    {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    private static void closeQuietly(final Socket socket)
    {
        try
        {
            socket.close();
        }
        catch (final IOException e)
        {
            // Closing anyway.
        }
    }

    /**
     * Stops accepting and closes every connection this server still owns (upgraded ones belong to their handlers).
     */
    @Override
    public void close()
    {
        closed = true;
        acceptor.close();
        for (final Socket s : open)
        {
            closeQuietly(s);
        }
    }

    /**
     * A request the server cannot read: answered with {@link #status} and the connection closed.
     */
    static final class BadRequest extends IOException
    {
        final int status;

        BadRequest(final int status, final String message)
        {
            super(message);
            this.status = status;
        }
    }
}
