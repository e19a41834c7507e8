package io.jvhost.display.rfb;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The byte streams an RFB session runs on: a TCP socket, or a WebSocket's binary messages.
 */
public interface RfbTransport extends Closeable
{
    InputStream input() throws IOException;

    OutputStream output() throws IOException;

    /**
     * Limits how long a read may block (0: no limit); used during the handshake.
     */
    void readTimeout(int millis) throws IOException;

    /**
     * @return who is at the other end, for logs (e.g. {@code vnc 127.0.0.1:40000}).
     */
    String peer();

    /**
     * Closes the transport; unblocks reads and writes on other threads. Idempotent.
     */
    @Override
    void close();
}
