package io.jvhost.display.http;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;

import com.code_intelligence.jazzer.junit.FuzzTest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the HTTP request-head reader with any bytes, read as pipelined requests until the stream ends or a request
 * is refused. Each request it accepts has a token method, a target starting with '/', an HTTP/1.0 or 1.1 version,
 * at most {@link HttpServer#MAX_HEADERS} headers with lower-case token names and no control characters, and no
 * body; a refusal is a BadRequest of 400, 413 or 431; a request never consumes more than its bounded head.
 */
class HttpRequestFuzzTest
{
    @FuzzTest(maxDuration = "30s")
    void requestHeadsAreBoundedAndWellFormedOrRefused(final byte[] input) throws IOException
    {
        final ByteArrayInputStream in = new ByteArrayInputStream(input);
        try
        {
            for (HttpRequest request; (request = HttpServer.readRequest(in)) != null; )
            {
                check(request);
            }
        }
        catch (final HttpServer.BadRequest e)
        {
            assertThat(e.status).isIn(400, 413, 431);
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    private static void check(final HttpRequest request)
    {
        assertThat(request.method()).matches("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");
        assertThat(request.target()).startsWith("/").doesNotContain(" ");
        assertThat(request.version()).isIn("HTTP/1.0", "HTTP/1.1");
        assertThat(request.headers().size()).isLessThanOrEqualTo(HttpServer.MAX_HEADERS);
        for (final Map.Entry<String, String> h : request.headers().entrySet())
        {
            assertThat(h.getKey()).isEqualTo(h.getKey().toLowerCase(Locale.ROOT))
                .matches("[!#$%&'*+\\-.^_`|~0-9a-z]+");
            assertThat(h.getValue().length()).isLessThanOrEqualTo(HttpServer.MAX_LINE * HttpServer.MAX_HEADERS);
            assertThat(h.getValue().chars().noneMatch(c -> c < 0x20 && c != '\t' || c == 0x7F)).isTrue();
        }
        assertThat(request.headers()).doesNotContainKey("transfer-encoding");
        final String length = request.headers().get("content-length");
        assertThat(null == length || "0".equals(length.trim())).as("no body").isTrue();
        request.keepAlive();
        request.query();
    }
}
