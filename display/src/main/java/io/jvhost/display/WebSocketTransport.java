package io.jvhost.display;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

import io.jvhost.display.rfb.RfbTransport;
import io.jvhost.display.websocket.WebSocket;

/**
 * RFB over a WebSocket's binary messages (what noVNC speaks).
 */
final class WebSocketTransport implements RfbTransport
{
    private final WebSocket webSocket;
    private final Socket socket;
    private final String peer;

    WebSocketTransport(final WebSocket webSocket, final Socket socket)
    {
        this.webSocket = webSocket;
        this.socket = socket;
        this.peer = "web " + socket.getRemoteSocketAddress();
    }

    @Override
    public InputStream input()
    {
        return webSocket.input();
    }

    @Override
    public OutputStream output()
    {
        return webSocket.output();
    }

    @Override
    public void readTimeout(final int millis) throws IOException
    {
        socket.setSoTimeout(millis);
    }

    @Override
    public String peer()
    {
        return peer;
    }

    @Override
    public void close()
    {
        webSocket.close(WebSocket.CLOSE_NORMAL, "");
    }
}
