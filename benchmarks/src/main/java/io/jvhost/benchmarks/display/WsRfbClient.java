package io.jvhost.benchmarks.display;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * DisplayBench's viewer: RFB 3.8 over a WebSocket, as noVNC speaks it (security None, noVNC's pixel format, one
 * FramebufferUpdateRequest at a time). It does not decode pixels: it reads each FramebufferUpdate to its end
 * (Raw, Zlib, ZRLE rectangles and the pseudo-rectangles the server may send) and counts the bytes that arrived,
 * WebSocket frame headers included. Nothing is allocated per update.
 */
final class WsRfbClient implements Closeable
{
    static final int RAW = 0;
    static final int ZLIB = 6;
    static final int ZRLE = 16;
    static final int DESKTOP_SIZE = -223;
    private static final int EXTENDED_KEYS = -258;
    private static final int CURSOR = -239;
    private static final String WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] scratch = new byte[256 * 1024];
    /** Client messages and ping payloads (at most 125 bytes). */
    private final byte[] message = new byte[128];
    private final byte[] frame = new byte[6 + 128];
    private long payloadLeft;
    private long wireBytes;
    private int width;
    private int height;

    private WsRfbClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 256 * 1024);
        this.out = socket.getOutputStream();
    }

    /**
     * Opens the WebSocket to {@code /websockify?scanout=N} of a web console and does the RFB handshake.
     */
    static WsRfbClient connect(final InetSocketAddress address, final int scanout) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            socket.connect(address, 5000);
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(30_000);
            final WsRfbClient c = new WsRfbClient(socket);
            c.upgrade(address, scanout);
            c.rfbHandshake();
            return c;
        }
        catch (final IOException | RuntimeException e)
        {
            socket.close();
            throw e;
        }
    }

    private void upgrade(final InetSocketAddress address, final int scanout) throws IOException
    {
        final byte[] nonce = new byte[16];
        ThreadLocalRandom.current().nextBytes(nonce);
        final String key = Base64.getEncoder().encodeToString(nonce);
        final String host = address.getAddress().getHostAddress() + ":" + address.getPort();
        final String request = "GET /websockify?scanout=" + scanout + " HTTP/1.1\r\n"
            + "Host: " + host + "\r\n"
            + "Origin: http://" + host + "\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Key: " + key + "\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Protocol: binary\r\n\r\n";
        out.write(request.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        final ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4)
        {
            final int b = in.read();
            if (b < 0)
            {
                throw new EOFException("the server closed the connection during the WebSocket handshake");
            }
            head.write(b);
            matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : b == '\r' ? 1 : 0;
        }
        final String response = head.toString(StandardCharsets.US_ASCII);
        if (!response.startsWith("HTTP/1.1 101"))
        {
            throw new IOException("WebSocket refused: " + response.lines().findFirst().orElse(""));
        }
        final String expected = accept(key);
        if (response.lines().noneMatch(l -> l.toLowerCase(Locale.ROOT).startsWith("sec-websocket-accept:")
            && l.substring(l.indexOf(':') + 1).trim().equals(expected)))
        {
            throw new IOException("bad Sec-WebSocket-Accept in " + response);
        }
    }

    private static String accept(final String key)
    {
        try
        {
            final byte[] sha1 = MessageDigest.getInstance("SHA-1")
                .digest((key + WEBSOCKET_GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha1);
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException(e);
        }
    }

    private void rfbHandshake() throws IOException
    {
        final byte[] version = new byte[12];
        readFully(version, 12);
        final String v = new String(version, StandardCharsets.US_ASCII);
        if (!v.startsWith("RFB 003."))
        {
            throw new IOException("not an RFB server: " + v.strip());
        }
        send("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII), 12);
        final int types = u8();
        boolean none = false;
        for (int i = 0; i < types; i++)
        {
            none |= u8() == 1;
        }
        if (!none)
        {
            throw new IOException("the server wants a password (DisplayBench speaks security type None only)");
        }
        send(new byte[] {1}, 1);
        if (s32() != 0)
        {
            throw new IOException("security handshake failed");
        }
        send(new byte[] {1}, 1); // ClientInit: shared
        width = u16();
        height = u16();
        skip(16); // the server's pixel format
        skip(s32()); // desktop name
    }

    int width()
    {
        return width;
    }

    int height()
    {
        return height;
    }

    /**
     * Asks for noVNC's pixel format: 32 bits, depth 24, little-endian, red at bit 0 (R,G,B,X in memory).
     */
    void setNoVncPixelFormat() throws IOException
    {
        final byte[] m = message;
        int at = 0;
        m[at++] = 0; // SetPixelFormat
        m[at++] = 0;
        m[at++] = 0;
        m[at++] = 0;
        m[at++] = 32;
        m[at++] = 24;
        m[at++] = 0; // little-endian
        m[at++] = 1; // true colour
        for (int i = 0; i < 3; i++)
        {
            m[at++] = 0;
            m[at++] = (byte)255;
        }
        m[at++] = 0;
        m[at++] = 8;
        m[at++] = 16;
        m[at++] = 0;
        m[at++] = 0;
        m[at++] = 0;
        send(m, at);
    }

    void setEncodings(final int... encodings) throws IOException
    {
        final byte[] m = message;
        m[0] = 2;
        m[1] = 0;
        m[2] = (byte)(encodings.length >>> 8);
        m[3] = (byte)encodings.length;
        int at = 4;
        for (final int e : encodings)
        {
            m[at++] = (byte)(e >>> 24);
            m[at++] = (byte)(e >>> 16);
            m[at++] = (byte)(e >>> 8);
            m[at++] = (byte)e;
        }
        send(m, at);
    }

    /**
     * Asks for the whole screen.
     */
    void requestUpdate(final boolean incremental) throws IOException
    {
        final byte[] m = message;
        m[0] = 3;
        m[1] = (byte)(incremental ? 1 : 0);
        m[2] = 0;
        m[3] = 0;
        m[4] = 0;
        m[5] = 0;
        m[6] = (byte)(width >>> 8);
        m[7] = (byte)width;
        m[8] = (byte)(height >>> 8);
        m[9] = (byte)height;
        send(m, 10);
    }

    /**
     * Reads server messages up to and including the next FramebufferUpdate.
     *
     * @return the pixels its Raw, Zlib and ZRLE rectangles cover.
     */
    long readUpdate() throws IOException
    {
        while (true)
        {
            final int type = u8();
            switch (type)
            {
                case 0 ->
                {
                    return updateBody();
                }
                case 2 ->
                {
                    // Bell: nothing follows.
                }
                case 3 ->
                {
                    skip(3);
                    skip(s32() & 0xFFFF_FFFFL);
                }
                default -> throw new IOException("unexpected server message type " + type);
            }
        }
    }

    private long updateBody() throws IOException
    {
        skip(1);
        final int rects = u16();
        long area = 0;
        for (int i = 0; i < rects; i++)
        {
            u16();
            u16();
            final int w = u16();
            final int h = u16();
            final int encoding = s32();
            switch (encoding)
            {
                case RAW ->
                {
                    skip(4L * w * h);
                    area += (long)w * h;
                }
                case ZLIB, ZRLE ->
                {
                    skip(s32() & 0xFFFF_FFFFL);
                    area += (long)w * h;
                }
                case DESKTOP_SIZE ->
                {
                    width = w;
                    height = h;
                }
                case EXTENDED_KEYS ->
                {
                }
                case CURSOR -> skip(4L * w * h + (long)(w + 7) / 8 * h);
                default -> throw new IOException("unexpected encoding " + encoding);
            }
        }
        return area;
    }

    /**
     * @return bytes received on the WebSocket so far after the handshake: frame headers and payloads.
     */
    long wireBytes()
    {
        return wireBytes;
    }

    // ----------------------------------------------------------------------------------------------------------------
    // The RFB byte stream: the payloads of the server's binary frames.

    private int u8() throws IOException
    {
        nextPayload();
        final int b = in.read();
        if (b < 0)
        {
            throw new EOFException();
        }
        payloadLeft--;
        return b;
    }

    private int u16() throws IOException
    {
        return u8() << 8 | u8();
    }

    private int s32() throws IOException
    {
        return u16() << 16 | u16();
    }

    private void readFully(final byte[] b, final int length) throws IOException
    {
        int at = 0;
        while (at < length)
        {
            nextPayload();
            final int n = in.read(b, at, (int)Math.min(length - at, payloadLeft));
            if (n < 0)
            {
                throw new EOFException();
            }
            payloadLeft -= n;
            at += n;
        }
    }

    private void skip(final long bytes) throws IOException
    {
        long left = bytes;
        while (left > 0)
        {
            nextPayload();
            final int n = in.read(scratch, 0, (int)Math.min(Math.min(left, payloadLeft), scratch.length));
            if (n < 0)
            {
                throw new EOFException();
            }
            payloadLeft -= n;
            left -= n;
        }
    }

    /**
     * Reads frame headers until a data frame with payload left: answers pings, ignores pongs, ends at close.
     */
    private void nextPayload() throws IOException
    {
        while (payloadLeft == 0)
        {
            final int b0 = raw();
            final int b1 = raw();
            if ((b1 & 0x80) != 0)
            {
                throw new IOException("the server masked a frame");
            }
            long length = b1 & 0x7F;
            int header = 2;
            if (length == 126)
            {
                length = raw() << 8 | raw();
                header += 2;
            }
            else if (length == 127)
            {
                length = 0;
                for (int i = 0; i < 8; i++)
                {
                    length = length << 8 | raw();
                }
                header += 8;
            }
            wireBytes += header + length;
            final int opcode = b0 & 0x0F;
            switch (opcode)
            {
                case 0x0, 0x2 -> payloadLeft = length;
                case 0x8 -> throw new EOFException("the server closed the WebSocket");
                case 0x9 ->
                {
                    readRaw(message, (int)length);
                    frame(0xA, message, (int)length);
                }
                case 0xA -> readRaw(scratch, (int)length);
                default -> throw new IOException("unexpected WebSocket opcode " + opcode);
            }
        }
    }

    private int raw() throws IOException
    {
        final int b = in.read();
        if (b < 0)
        {
            throw new EOFException();
        }
        return b;
    }

    private void readRaw(final byte[] b, final int length) throws IOException
    {
        if (in.readNBytes(b, 0, length) != length)
        {
            throw new EOFException();
        }
    }

    private void send(final byte[] payload, final int length) throws IOException
    {
        frame(0x2, payload, length);
    }

    /**
     * Sends one masked frame (a client must mask, RFC 6455 §5.3); payloads here are at most 125 bytes.
     */
    private void frame(final int opcode, final byte[] payload, final int length) throws IOException
    {
        final int mask = ThreadLocalRandom.current().nextInt();
        frame[0] = (byte)(0x80 | opcode);
        frame[1] = (byte)(0x80 | length);
        for (int i = 0; i < 4; i++)
        {
            frame[2 + i] = (byte)(mask >>> (24 - 8 * i));
        }
        for (int i = 0; i < length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ frame[2 + (i & 3)]);
        }
        out.write(frame, 0, 6 + length);
        out.flush();
    }

    @Override
    public void close() throws IOException
    {
        socket.close();
    }
}
