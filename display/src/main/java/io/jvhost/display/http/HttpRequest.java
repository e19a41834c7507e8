package io.jvhost.display.http;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A parsed HTTP/1.x request head: method, path (percent-decoded, without the query), query parameters (first value of
 * each), headers (names lower-cased; repeated headers joined with {@code ", "}).
 */
public final class HttpRequest
{
    private final String method;
    private final String target;
    private final String path;
    private final Map<String, String> query;
    private final String version;
    private final Map<String, String> headers;

    /**
     * @throws HttpServer.BadRequest (400) when the path or query has a malformed percent-encoding.
     */
    HttpRequest(final String method, final String target, final String version, final Map<String, String> headers)
        throws HttpServer.BadRequest
    {
        this.method = method;
        this.target = target;
        this.version = version;
        this.headers = Collections.unmodifiableMap(headers);
        final int q = target.indexOf('?');
        final String rawPath = q < 0 ? target : target.substring(0, q);
        this.path = decode(rawPath.replace("+", "%2B"));
        final Map<String, String> params = new LinkedHashMap<>();
        if (q >= 0)
        {
            for (final String pair : target.substring(q + 1).split("&"))
            {
                if (pair.isEmpty())
                {
                    continue;
                }
                final int eq = pair.indexOf('=');
                final String key = decode(eq < 0 ? pair : pair.substring(0, eq));
                final String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                params.putIfAbsent(key, value);
            }
        }
        this.query = Collections.unmodifiableMap(params);
    }

    /**
     * @return {@code encoded} with its %XX escapes (UTF-8) and {@code +} decoded.
     */
    private static String decode(final String encoded) throws HttpServer.BadRequest
    {
        try
        {
            return URLDecoder.decode(encoded, StandardCharsets.UTF_8);
        }
        catch (final IllegalArgumentException e)
        {
            throw new HttpServer.BadRequest(400, "malformed percent-encoding in '" + HttpServer.abbreviate(encoded)
                + "'");
        }
    }

    public String method()
    {
        return method;
    }

    /**
     * @return the request target as sent (path and query).
     */
    public String target()
    {
        return target;
    }

    public String path()
    {
        return path;
    }

    public Map<String, String> query()
    {
        return query;
    }

    public String version()
    {
        return version;
    }

    /**
     * @return the header's value, or null.
     */
    public String header(final String name)
    {
        return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public Map<String, String> headers()
    {
        return headers;
    }

    /**
     * @return whether the connection stays open after the response (HTTP/1.1 without {@code Connection: close}).
     */
    public boolean keepAlive()
    {
        final String connection = header("connection");
        if ("HTTP/1.0".equals(version))
        {
            return null != connection && connection.toLowerCase(Locale.ROOT).contains("keep-alive");
        }
        return null == connection || !connection.toLowerCase(Locale.ROOT).contains("close");
    }

    @Override
    public String toString()
    {
        return method + " " + target;
    }
}
