package io.jvhost.display.rfb;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/**
 * RFB straight over a TCP socket.
 */
public final class SocketTransport implements RfbTransport
{
    private final Socket socket;
    private final String peer;

    public SocketTransport(final Socket socket, final String kind)
    {
        this.socket = socket;
        this.peer = kind + " " + socket.getRemoteSocketAddress();
    }

    @Override
    public InputStream input() throws IOException
    {
        return socket.getInputStream();
    }

    @Override
    public OutputStream output() throws IOException
    {
        return socket.getOutputStream();
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
        try
        {
            socket.close();
        }
        catch (final IOException e)
        {
            // Closing anyway.
        }
    }
}
