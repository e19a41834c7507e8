package io.jvhost.display;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import io.jvhost.display.http.HttpExchange;
import io.jvhost.display.http.HttpHandler;
import io.jvhost.display.http.HttpRequest;
import io.jvhost.display.rfb.Framebuffer;
import io.jvhost.display.rfb.RfbConfig;
import io.jvhost.display.rfb.RfbSession;
import io.jvhost.display.rfb.SessionRegistry;
import io.jvhost.display.websocket.WebSocket;
import io.jvhost.display.websocket.WebSocketHandshake;

/**
 * The web console's routes:
 * <pre>
 *   /, /index.html, /app.js, /style.css   the page (resources under io/jvhost/display/web/)
 *   /novnc/core/..., /novnc/vendor/...    noVNC, packed into the jar at build time
 *   /scanouts                             JSON: the scanouts in use and their sizes
 *   /snapshot/N.png                       scanout N as PNG
 *   /websockify?scanout=N                 WebSocket carrying RFB for scanout N (default 0)
 * </pre>
 * Every request must name this console in its Host header ({@link AllowedHosts}): one that names another host is
 * refused with 421 Misdirected Request (400 without a Host or with a malformed one), whatever the route, so a page that
 * re-points its own DNS name at this address (DNS rebinding) reads and opens nothing. A WebSocket from a page of
 * another origin is refused (403): otherwise any web site the user visits could open {@code ws://127.0.0.1:PORT} and
 * type on the guest's keyboard.
 * <p>
 * With a display password, the routes that show the screen ({@code /scanouts}, {@code /snapshot/N.png}) want it by
 * HTTP Basic ({@link BasicAuth}: any user name; 401 with a WWW-Authenticate challenge otherwise, after the VNC
 * authentication failure delay when a wrong one was sent); the WebSocket keeps RFB's VNC Authentication. The page and
 * noVNC hold nothing of the guest and load without it: noVNC asks the password over RFB, and the page then sends the
 * same password with its own requests.
 */
final class WebConsole implements HttpHandler
{
    private static final System.Logger LOG = System.getLogger(WebConsole.class.getName());
    private static final String ROOT = "web";
    private static final Pattern SNAPSHOT = Pattern.compile("/snapshot/(\\d{1,2})\\.png");
    private static final Pattern SAFE_PATH = Pattern.compile("/[A-Za-z0-9_\\-]+(/[A-Za-z0-9_\\-]+)*(\\.[a-z0-9]+)?");

    private final String name;
    private final DisplayServer display;
    private final RfbConfig config;
    private final SessionRegistry sessions;
    private final AllowedHosts hosts;
    /** Null without a display password. */
    private final BasicAuth auth;
    private final Map<String, byte[]> cache = new ConcurrentHashMap<>();

    WebConsole(final String name, final DisplayServer display, final RfbConfig config, final SessionRegistry sessions,
        final AllowedHosts hosts)
    {
        this.name = name;
        this.display = display;
        this.config = config;
        this.sessions = sessions;
        this.hosts = hosts;
        this.auth = null == config.password() ? null : new BasicAuth(config.password(), "jvhost " + name);
    }

    @Override
    public void handle(final HttpRequest request, final HttpExchange exchange) throws IOException
    {
        final String host = request.header("host");
        final int refusal = hosts.refusal(host);
        if (0 != refusal)
        {
            final String what = null == host ? "no Host" : "Host '" + host + "'";
            LOG.log(Level.WARNING, name + ": refused " + request.method() + " " + abbreviate(request.target())
                + " from " + exchange.socket().getRemoteSocketAddress() + ": " + what
                + " is not this console (allowed: " + hosts + ")");
            exchange.closeAfterResponse();
            exchange.respond(refusal, (421 == refusal ? "misdirected request: " : "bad request: ") + what
                + " is not this console; allow a name with --display web=HOST:PORT,allow-host=NAME");
            return;
        }
        final String path = request.path();
        if ("/websockify".equals(path))
        {
            webSocket(request, exchange);
            return;
        }
        if ("/scanouts".equals(path))
        {
            if (authorized(request, exchange))
            {
                exchange.respond(200, "application/json", scanoutsJson(), Map.of("Cache-Control", "no-store"));
            }
            return;
        }
        final Matcher m = SNAPSHOT.matcher(path);
        if (m.matches())
        {
            if (authorized(request, exchange))
            {
                snapshot(Integer.parseInt(m.group(1)), exchange);
            }
            return;
        }
        final String file = "/".equals(path) ? "/index.html" : path;
        if (!SAFE_PATH.matcher(file).matches())
        {
            exchange.respond(404, "not found: " + path);
            return;
        }
        final byte[] body = resource(file);
        if (null == body)
        {
            exchange.respond(404, "not found: " + path);
            return;
        }
        exchange.respond(200, contentType(file), body, Map.of("Cache-Control", "no-cache"));
    }

    /**
     * @return true when no password is set or the request carries it; else answers 401 and returns false.
     */
    private boolean authorized(final HttpRequest request, final HttpExchange exchange) throws IOException
    {
        if (null == auth)
        {
            return true;
        }
        final BasicAuth.Result result = auth.check(request.header("authorization"));
        if (BasicAuth.Result.GRANTED == result)
        {
            return true;
        }
        if (BasicAuth.Result.WRONG == result)
        {
            LOG.log(Level.WARNING, name + ": wrong display password from " + exchange.socket().getRemoteSocketAddress()
                + " for " + abbreviate(request.target()));
            pause(config.authFailureDelayMillis());
        }
        else
        {
            LOG.log(Level.DEBUG, () -> name + ": " + abbreviate(request.target()) + " from "
                + exchange.socket().getRemoteSocketAddress() + " without the display password");
        }
        final byte[] body = "the display password is required (HTTP Basic, any user name)\n"
            .getBytes(StandardCharsets.UTF_8);
        exchange.respond(401, "text/plain; charset=utf-8", body, Map.of("WWW-Authenticate", auth.challenge(),
            "Cache-Control", "no-store"));
        return false;
    }

    private static void pause(final int millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static String abbreviate(final String s)
    {
        return s.length() > 100 ? s.substring(0, 100) + "..." : s;
    }

    private byte[] resource(final String file) throws IOException
    {
        final byte[] cached = cache.get(file);
        if (null != cached)
        {
            return cached;
        }
        try (InputStream in = WebConsole.class.getResourceAsStream(ROOT + file))
        {
            if (null == in)
            {
                return null;
            }
            final byte[] bytes = in.readAllBytes();
            cache.put(file, bytes);
            return bytes;
        }
    }

    private static String contentType(final String file)
    {
        final String ext = file.substring(file.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        return switch (ext)
        {
            case "html" -> "text/html; charset=utf-8";
            case "js", "mjs" -> "text/javascript; charset=utf-8";
            case "css" -> "text/css; charset=utf-8";
            case "json" -> "application/json";
            case "png" -> "image/png";
            case "svg" -> "image/svg+xml";
            case "ico" -> "image/x-icon";
            default -> "application/octet-stream";
        };
    }

    private byte[] scanoutsJson()
    {
        final StringBuilder sb = new StringBuilder("{\"name\":\"").append(name).append("\",\"input\":")
            .append(display.hasInput()).append(",\"scanouts\":[");
        boolean first = true;
        for (int i = 0; i < DisplayServer.MAX_SCANOUTS; i++)
        {
            final Framebuffer fb = 0 == i ? display.framebuffer(0) : display.existingFramebuffer(i);
            if (null == fb)
            {
                continue;
            }
            if (!first)
            {
                sb.append(',');
            }
            first = false;
            sb.append("{\"index\":").append(i).append(",\"width\":").append(fb.width()).append(",\"height\":")
                .append(fb.height()).append(",\"enabled\":").append(fb.enabled()).append('}');
        }
        return sb.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    private void snapshot(final int index, final HttpExchange exchange) throws IOException
    {
        final Framebuffer fb = index >= DisplayServer.MAX_SCANOUTS ? null : display.existingFramebuffer(index);
        if (null == fb)
        {
            exchange.respond(404, "scanout " + index + " has never been shown (scanouts are 0.."
                + (DisplayServer.MAX_SCANOUTS - 1) + ")");
            return;
        }
        final ByteArrayOutputStream png = new ByteArrayOutputStream(64 * 1024);
        ImageIO.write(fb.snapshot(), "png", png);
        exchange.respond(200, "image/png", png.toByteArray(), Map.of("Cache-Control", "no-store"));
    }

    private void webSocket(final HttpRequest request, final HttpExchange exchange) throws IOException
    {
        final String problem = WebSocketHandshake.problem(request.method(), request.header("upgrade"),
            request.header("connection"), request.header("sec-websocket-version"),
            request.header("sec-websocket-key"));
        if (null != problem)
        {
            final Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Sec-WebSocket-Version", "13");
            exchange.respond(null == request.header("upgrade") ? 426 : 400, "text/plain; charset=utf-8",
                (problem + "\n").getBytes(StandardCharsets.UTF_8), headers);
            return;
        }
        final String origin = request.header("origin");
        if (null != origin && !originAllowed(origin, request.header("host")))
        {
            LOG.log(Level.WARNING, name + ": refused a WebSocket from " + exchange.socket().getRemoteSocketAddress()
                + ": page origin " + origin + " is not this console (Host " + request.header("host") + ")");
            exchange.respond(403, "cross-origin WebSocket refused: origin " + origin);
            return;
        }
        final int scanout;
        try
        {
            scanout = Integer.parseInt(request.query().getOrDefault("scanout", "0"));
        }
        catch (final NumberFormatException e)
        {
            exchange.respond(400, "scanout must be a number, got '" + request.query().get("scanout") + "'");
            return;
        }
        if (scanout < 0 || scanout >= DisplayServer.MAX_SCANOUTS)
        {
            exchange.respond(404, "scanout must be 0.." + (DisplayServer.MAX_SCANOUTS - 1) + ", got " + scanout);
            return;
        }
        final Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Upgrade", "websocket");
        headers.put("Connection", "Upgrade");
        headers.put("Sec-WebSocket-Accept", WebSocketHandshake.accept(request.header("sec-websocket-key").trim()));
        final String protocol = WebSocketHandshake.subprotocol(request.header("sec-websocket-protocol"));
        if (null != protocol)
        {
            headers.put("Sec-WebSocket-Protocol", protocol);
        }
        exchange.upgrade(headers);
        exchange.socket().setSoTimeout(0);
        final WebSocket ws = new WebSocket("web " + exchange.socket().getRemoteSocketAddress(), exchange.input(),
            exchange.output(), exchange.socket(), WebSocket.DEFAULT_MAX_FRAME);
        final WebSocketTransport transport = new WebSocketTransport(ws, exchange.socket());
        final RfbSession session = new RfbSession(transport.peer() + " scanout " + scanout, transport,
            display.framebuffer(scanout), config);
        if (!sessions.serve(session, transport))
        {
            LOG.log(Level.WARNING, name + ": refused " + transport.peer() + ": " + sessions.max()
                + " viewers already connected");
        }
    }

    /**
     * @return whether a page at {@code origin} was served by this console under a name it allows ({@code host}, the
     *     Host header, was allowed already: an Origin of the same name is too; checked again so the two cannot drift).
     */
    private boolean originAllowed(final String origin, final String host)
    {
        return sameOrigin(origin, host) && hosts.allowsName(URI.create(origin.trim()).getHost());
    }

    /**
     * @return whether a page at {@code origin} was served by this console ({@code host} is the Host header).
     */
    static boolean sameOrigin(final String origin, final String host)
    {
        if (null == host)
        {
            return false;
        }
        try
        {
            final URI uri = new URI(origin.trim());
            if (null == uri.getHost() || !"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()))
            {
                return false;
            }
            final int port = uri.getPort() >= 0 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
            final String h = host.trim().toLowerCase(Locale.ROOT);
            final String expected = uri.getHost().toLowerCase(Locale.ROOT);
            final int colon = h.lastIndexOf(':');
            final boolean hasPort = colon > h.lastIndexOf(']');
            final String hostName = hasPort ? h.substring(0, colon) : h;
            final int hostPort = hasPort ? Integer.parseInt(h.substring(colon + 1)) : 80;
            return hostName.equals(expected) && hostPort == port;
        }
        catch (final URISyntaxException | NumberFormatException e)
        {
            return false;
        }
    }
}
