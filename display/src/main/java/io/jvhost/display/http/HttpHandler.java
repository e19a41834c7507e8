package io.jvhost.display.http;

import java.io.IOException;

/**
 * Answers requests. Runs on the connection's own (virtual) thread; may block for as long as it serves that client.
 */
@FunctionalInterface
public interface HttpHandler
{
    /**
     * Responds through {@code exchange} (exactly once), or takes the connection over (WebSocket).
     */
    void handle(HttpRequest request, HttpExchange exchange) throws IOException;
}
