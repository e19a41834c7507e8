package io.jvhost.display;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A WebSocket client written from RFC 6455 for the tests: sends the Upgrade request, then masked frames of any shape
 * (fragmented, unmasked, oversized, control) and reads the server's frames.
 */
final class WsTestClient implements Closeable
{
    record Frame(boolean fin, int opcode, byte[] payload)
    {
        int closeCode()
        {
            return payload.length >= 2 ? (payload[0] & 0xFF) << 8 | payload[1] & 0xFF : -1;
        }
    }

    final Socket socket;
    final DataInputStream in;
    final OutputStream out;
    final int status;
    /** The response's status line as sent, e.g. {@code HTTP/1.1 421 Misdirected Request}. */
    final String statusLine;
    final Map<String, String> headers = new LinkedHashMap<>();
    private final Random random = new Random(7);
    /** Each RFB write is split into frames of this many bytes (0: one frame). */
    int fragment;

    private WsTestClient(final Socket socket, final String request) throws IOException
    {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        this.out = socket.getOutputStream();
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        statusLine = line();
        status = Integer.parseInt(statusLine.split(" ")[1]);
        String h;
        while (!(h = line()).isEmpty())
        {
            final int colon = h.indexOf(':');
            headers.put(h.substring(0, colon).toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
        }
    }

    static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";

    /**
     * Opens {@code path} with a standard upgrade request plus {@code extra} header lines.
     */
    static WsTestClient open(final InetSocketAddress address, final String path, final String extra)
        throws IOException
    {
        return open(address, "127.0.0.1:" + address.getPort(), path, extra);
    }

    /**
     * Opens {@code path} with a standard upgrade request naming {@code host} in its Host header.
     */
    static WsTestClient open(final InetSocketAddress address, final String host, final String path,
        final String extra) throws IOException
    {
        final Socket socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        return new WsTestClient(socket, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n" + extra
            + "\r\n");
    }

    /**
     * A plain {@code GET path} naming {@code host}, with {@code extra} header lines, on a connection of its own.
     */
    static WsTestClient get(final InetSocketAddress address, final String host, final String path,
        final String extra) throws IOException
    {
        return raw(address, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra
            + "Connection: close\r\n\r\n");
    }

    /**
     * Sends a raw request (anything) and reads the response head.
     */
    static WsTestClient raw(final InetSocketAddress address, final String request) throws IOException
    {
        final Socket socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        return new WsTestClient(socket, request);
    }

    /**
     * @return the response body (Content-Length bytes).
     */
    byte[] body() throws IOException
    {
        final int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        final byte[] body = new byte[length];
        in.readFully(body);
        return body;
    }

    private String line() throws IOException
    {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != '\n')
        {
            if (c < 0)
            {
                throw new IOException("connection closed in the response head");
            }
            if (c != '\r')
            {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    void send(final boolean fin, final int opcode, final byte[] payload, final boolean masked) throws IOException
    {
        final ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write((fin ? 0x80 : 0) | opcode);
        final int m = masked ? 0x80 : 0;
        if (payload.length < 126)
        {
            f.write(m | payload.length);
        }
        else if (payload.length <= 0xFFFF)
        {
            f.write(m | 126);
            f.write(payload.length >>> 8);
            f.write(payload.length);
        }
        else
        {
            f.write(m | 127);
            for (int s = 56; s >= 0; s -= 8)
            {
                f.write((int)((long)payload.length >>> s));
            }
        }
        final byte[] key = new byte[4];
        random.nextBytes(key);
        if (masked)
        {
            f.write(key);
        }
        for (int i = 0; i < payload.length; i++)
        {
            f.write(masked ? payload[i] ^ key[i & 3] : payload[i]);
        }
        out.write(f.toByteArray());
        out.flush();
    }

    /**
     * Sends only a frame header announcing {@code length} bytes (oversize tests).
     */
    void sendHeader(final int opcode, final long length) throws IOException
    {
        final ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write(0x80 | opcode);
        f.write(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8)
        {
            f.write((int)(length >>> s));
        }
        f.write(new byte[4]);
        out.write(f.toByteArray());
        out.flush();
    }

    Frame read() throws IOException
    {
        final int b0 = in.readUnsignedByte();
        final int b1 = in.readUnsignedByte();
        if ((b1 & 0x80) != 0)
        {
            throw new IOException("server frames must not be masked");
        }
        long length = b1 & 0x7F;
        if (length == 126)
        {
            length = in.readUnsignedShort();
        }
        else if (length == 127)
        {
            length = in.readLong();
        }
        final byte[] payload = in.readNBytes((int)length);
        return new Frame((b0 & 0x80) != 0, b0 & 0x0F, payload);
    }

    /**
     * @return the next non-binary frame (binary frames before it are skipped).
     */
    Frame readControl() throws IOException
    {
        while (true)
        {
            final Frame f = read();
            if (f.opcode() != 2)
            {
                return f;
            }
        }
    }

    /**
     * @return true when the server closed the TCP connection.
     */
    boolean eof()
    {
        try
        {
            while (in.read() >= 0)
            {
                // Drain.
            }
            return true;
        }
        catch (final IOException e)
        {
            return !(e instanceof java.net.SocketTimeoutException);
        }
    }

    /**
     * @return an RFB client running over this WebSocket's binary messages.
     */
    RfbTestClient rfb()
    {
        final InputStream payloads = new InputStream()
        {
            private byte[] current = new byte[0];
            private int at;

            @Override
            public int read(final byte[] b, final int off, final int len) throws IOException
            {
                if (len == 0)
                {
                    return 0;
                }
                final int first = read();
                if (first < 0)
                {
                    return -1;
                }
                b[off] = (byte)first;
                final int n = Math.min(len - 1, current.length - at);
                System.arraycopy(current, at, b, off + 1, n);
                at += n;
                return n + 1;
            }

            @Override
            public int read() throws IOException
            {
                while (at == current.length)
                {
                    final Frame f = WsTestClient.this.read();
                    if (f.opcode() == 8)
                    {
                        return -1;
                    }
                    if (f.opcode() == 2 || f.opcode() == 0)
                    {
                        current = f.payload();
                        at = 0;
                    }
                }
                return current[at++] & 0xFF;
            }
        };
        final OutputStream frames = new OutputStream()
        {
            private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

            @Override
            public void write(final int b)
            {
                pending.write(b);
            }

            @Override
            public void flush() throws IOException
            {
                final byte[] data = pending.toByteArray();
                pending.reset();
                if (data.length == 0)
                {
                    return;
                }
                if (fragment <= 0 || data.length <= fragment)
                {
                    send(true, 2, data, true);
                    return;
                }
                for (int off = 0; off < data.length; off += fragment)
                {
                    final int n = Math.min(fragment, data.length - off);
                    final byte[] part = java.util.Arrays.copyOfRange(data, off, off + n);
                    send(off + n == data.length, off == 0 ? 2 : 0, part, true);
                    if (off == 0)
                    {
                        // A ping between fragments is allowed (RFC 6455 §5.4).
                        send(true, 9, new byte[] {1, 2, 3}, true);
                    }
                }
            }
        };
        return new RfbTestClient(payloads, frames, socket);
    }

    @Override
    public void close() throws IOException
    {
        socket.close();
    }
}
