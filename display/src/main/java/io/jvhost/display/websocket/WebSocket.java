package io.jvhost.display.websocket;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server end of a WebSocket connection after the handshake (RFC 6455 §5): binary messages in both directions,
 * exposed as byte streams, so a byte protocol (RFB) runs over it unchanged.
 * <ul>
 * <li>{@link #input()} yields the payloads of the client's binary messages (fragmented or not) in order, with the
 * client's masking removed; answers pings with pongs, ignores pongs, and on a close frame echoes it and ends the
 * stream (-1).</li>
 * <li>{@link #output()} sends each {@code write} as one unmasked, unfragmented binary frame.</li>
 * <li>A broken frame (unmasked, reserved bits, unknown opcode, bad fragmentation, a control frame over 125 bytes or
 * fragmented, a text message, a frame over the size limit) makes the read throw {@link WebSocketException} after a
 * close frame with the matching status (1002, 1003, 1009) was sent and the connection closed.</li>
 * </ul>
 * Reads belong to one thread; writes from several threads are serialised (a pong never splits a frame).
 */
public final class WebSocket implements Closeable
{
    private static final System.Logger LOG = System.getLogger(WebSocket.class.getName());

    public static final int OP_CONTINUATION = 0x0;
    public static final int OP_TEXT = 0x1;
    public static final int OP_BINARY = 0x2;
    public static final int OP_CLOSE = 0x8;
    public static final int OP_PING = 0x9;
    public static final int OP_PONG = 0xA;

    public static final int CLOSE_NORMAL = 1000;
    public static final int CLOSE_GOING_AWAY = 1001;
    public static final int CLOSE_PROTOCOL_ERROR = 1002;
    public static final int CLOSE_UNSUPPORTED_DATA = 1003;
    public static final int CLOSE_NO_STATUS = 1005;
    public static final int CLOSE_TOO_BIG = 1009;

    /** Default largest frame payload accepted from a client. */
    public static final int DEFAULT_MAX_FRAME = 1 << 20;
    private static final int MAX_CONTROL_PAYLOAD = 125;
    private static final long CLOSE_WAIT_MS = 200;

    private final String name;
    private final InputStream in;
    private final OutputStream out;
    private final Closeable connection;
    private final int maxFrame;
    private final MessageInput input = new MessageInput();
    private final FrameOutput output = new FrameOutput();
    private final ReentrantLock writeLock = new ReentrantLock();
    private volatile boolean closed;
    private boolean closeSent;

    /**
     * @param name       for logs.
     * @param in         the connection's input, positioned after the handshake.
     * @param out        the connection's output.
     * @param connection closed when the WebSocket closes (the socket).
     * @param maxFrame   the largest frame payload a client may send.
     */
    public WebSocket(final String name, final InputStream in, final OutputStream out, final Closeable connection,
        final int maxFrame)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.in = Objects.requireNonNull(in, "in");
        this.out = new BufferedOutputStream(Objects.requireNonNull(out, "out"), 64 * 1024);
        this.connection = Objects.requireNonNull(connection, "connection");
        if (maxFrame < MAX_CONTROL_PAYLOAD)
        {
            throw new IllegalArgumentException("maxFrame must be at least " + MAX_CONTROL_PAYLOAD + ", got "
                + maxFrame);
        }
        this.maxFrame = maxFrame;
    }

    /**
     * @return the client's binary message payloads as one stream.
     */
    public InputStream input()
    {
        return input;
    }

    /**
     * @return a stream each {@code write} of which is one binary frame; {@code flush} is a no-op.
     */
    public OutputStream output()
    {
        return output;
    }

    /**
     * Sends a ping (tests, keep-alive).
     */
    public void ping(final byte[] payload) throws IOException
    {
        if (payload.length > MAX_CONTROL_PAYLOAD)
        {
            throw new IllegalArgumentException("a ping carries at most 125 bytes, got " + payload.length);
        }
        send(OP_PING, payload, 0, payload.length);
    }

    /**
     * Sends a close frame with {@code code} (unless one was sent already) and closes the connection. Idempotent.
     */
    public void close(final int code, final String reason)
    {
        if (closed)
        {
            return;
        }
        try
        {
            sendClose(code, reason);
        }
        catch (final IOException e)
        {
            // The connection is going anyway.
        }
        closeConnection();
    }

    /**
     * Closes normally (1000).
     */
    @Override
    public void close()
    {
        close(CLOSE_NORMAL, "");
    }

    public boolean isClosed()
    {
        return closed;
    }

    private void closeConnection()
    {
        closed = true;
        try
        {
            connection.close();
        }
        catch (final IOException e)
        {
            // Closing anyway.
        }
    }

    private void sendClose(final int code, final String reason) throws IOException
    {
        final byte[] text = reason.getBytes(StandardCharsets.UTF_8);
        final int length = Math.min(text.length, MAX_CONTROL_PAYLOAD - 2);
        final byte[] payload = new byte[2 + length];
        payload[0] = (byte)(code >>> 8);
        payload[1] = (byte)code;
        System.arraycopy(text, 0, payload, 2, length);
        // A writer stuck on a client that does not read holds the lock: then the connection just closes.
        try
        {
            if (!writeLock.tryLock(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS))
            {
                return;
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return;
        }
        try
        {
            if (closeSent)
            {
                return;
            }
            closeSent = true;
            writeFrame(OP_CLOSE, payload, 0, payload.length);
        }
        finally
        {
            writeLock.unlock();
        }
    }

    private void send(final int opcode, final byte[] payload, final int offset, final int length) throws IOException
    {
        writeLock.lock();
        try
        {
            if (closeSent || closed)
            {
                throw new IOException("WebSocket " + name + " is closed");
            }
            writeFrame(opcode, payload, offset, length);
        }
        finally
        {
            writeLock.unlock();
        }
    }

    /**
     * Writes one whole frame; the caller holds the write lock.
     */
    private void writeFrame(final int opcode, final byte[] payload, final int offset, final int length)
        throws IOException
    {
        out.write(0x80 | opcode);
        if (length < 126)
        {
            out.write(length);
        }
        else if (length <= 0xFFFF)
        {
            out.write(126);
            out.write(length >>> 8);
            out.write(length);
        }
        else
        {
            out.write(127);
            for (int shift = 56; shift >= 0; shift -= 8)
            {
                out.write((int)((long)length >>> shift));
            }
        }
        out.write(payload, offset, length);
        out.flush();
    }

    /**
     * @return whether an endpoint may put {@code code} in a close frame (RFC 6455 §7.4.1-2).
     */
    private static boolean maySend(final int code)
    {
        return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999;
    }

    /**
     * Sends a close for a broken frame, closes the connection and returns the exception to throw.
     */
    private WebSocketException fail(final int code, final String message)
    {
        final WebSocketException e = new WebSocketException(code, message);
        LOG.log(Level.WARNING, () -> name + ": " + e.getMessage() + "; closing the connection");
        close(code, message.length() > 100 ? message.substring(0, 100) : message);
        return e;
    }

    /**
     * Binary message payloads as a stream; control frames handled in between.
     */
    private final class MessageInput extends InputStream
    {
        private final byte[] mask = new byte[4];
        private final byte[] control = new byte[MAX_CONTROL_PAYLOAD];
        private long remaining;
        private int maskAt;
        private boolean fragmented;
        private boolean ended;

        @Override
        public int read() throws IOException
        {
            final byte[] one = new byte[1];
            final int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(final byte[] b, final int off, final int len) throws IOException
        {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0)
            {
                return 0;
            }
            while (remaining == 0)
            {
                if (ended || closed)
                {
                    return -1;
                }
                nextFrame();
            }
            final int n = in.read(b, off, (int)Math.min(len, remaining));
            if (n < 0)
            {
                ended = true;
                throw new EOFException("connection ended inside a frame, " + remaining + " payload bytes missing");
            }
            for (int i = 0; i < n; i++)
            {
                b[off + i] ^= mask[maskAt & 3];
                maskAt++;
            }
            remaining -= n;
            return n;
        }

        @Override
        public int available()
        {
            return 0;
        }

        private int next() throws IOException
        {
            final int b = in.read();
            if (b < 0)
            {
                ended = true;
                throw new EOFException("connection ended inside a frame header");
            }
            return b;
        }

        /**
         * Reads one frame header; handles a control frame whole, or sets up a data frame's payload.
         */
        private void nextFrame() throws IOException
        {
            final int b0 = in.read();
            if (b0 < 0)
            {
                // The TCP connection ended without a close frame (the browser's tab went away).
                ended = true;
                return;
            }
            final int b1 = next();
            final boolean fin = (b0 & 0x80) != 0;
            final int opcode = b0 & 0x0F;
            if ((b0 & 0x70) != 0)
            {
                throw fail(CLOSE_PROTOCOL_ERROR, "reserved bits 0x" + Integer.toHexString(b0 & 0x70)
                    + " set without an extension");
            }
            if ((b1 & 0x80) == 0)
            {
                throw fail(CLOSE_PROTOCOL_ERROR, "client frame (opcode " + opcode + ") is not masked");
            }
            long length = b1 & 0x7F;
            if (length == 126)
            {
                length = next() << 8 | next();
            }
            else if (length == 127)
            {
                length = 0;
                for (int i = 0; i < 8; i++)
                {
                    length = length << 8 | next();
                }
                if (length < 0)
                {
                    throw fail(CLOSE_PROTOCOL_ERROR, "frame length has its top bit set");
                }
            }
            for (int i = 0; i < 4; i++)
            {
                mask[i] = (byte)next();
            }
            maskAt = 0;
            if ((opcode & 0x8) != 0)
            {
                controlFrame(opcode, fin, length);
                return;
            }
            switch (opcode)
            {
                case OP_BINARY ->
                {
                    if (fragmented)
                    {
                        throw fail(CLOSE_PROTOCOL_ERROR, "a new binary message started inside a fragmented one");
                    }
                }
                case OP_CONTINUATION ->
                {
                    if (!fragmented)
                    {
                        throw fail(CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue");
                    }
                }
                case OP_TEXT -> throw fail(CLOSE_UNSUPPORTED_DATA, "text message: only binary messages carry RFB");
                default -> throw fail(CLOSE_PROTOCOL_ERROR, "unknown opcode " + opcode);
            }
            if (length > maxFrame)
            {
                throw fail(CLOSE_TOO_BIG, "frame of " + length + " bytes (at most " + maxFrame + ")");
            }
            fragmented = !fin;
            remaining = length;
        }

        private void controlFrame(final int opcode, final boolean fin, final long length) throws IOException
        {
            if (!fin)
            {
                throw fail(CLOSE_PROTOCOL_ERROR, "fragmented control frame (opcode " + opcode + ")");
            }
            if (length > MAX_CONTROL_PAYLOAD)
            {
                throw fail(CLOSE_PROTOCOL_ERROR, "control frame (opcode " + opcode + ") of " + length
                    + " bytes (at most 125)");
            }
            final int n = (int)length;
            int got = 0;
            while (got < n)
            {
                final int r = in.read(control, got, n - got);
                if (r < 0)
                {
                    ended = true;
                    throw new EOFException("connection ended inside a control frame");
                }
                got += r;
            }
            for (int i = 0; i < n; i++)
            {
                control[i] ^= mask[i & 3];
            }
            switch (opcode)
            {
                case OP_PING -> send(OP_PONG, control, 0, n);
                case OP_PONG ->
                {
                    // Unsolicited or answering our ping: nothing to do.
                }
                case OP_CLOSE ->
                {
                    ended = true;
                    if (n == 1)
                    {
                        throw fail(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
                    }
                    final int code = n >= 2 ? (control[0] & 0xFF) << 8 | control[1] & 0xFF : CLOSE_NO_STATUS;
                    if (n >= 2 && !maySend(code))
                    {
                        // Echoing it would put a code on the wire that RFC 6455 §7.4 reserves (1005, 1006, ...).
                        throw fail(CLOSE_PROTOCOL_ERROR, "close frame with code " + code
                            + ", which no endpoint may send");
                    }
                    LOG.log(Level.DEBUG, () -> name + ": client closed the WebSocket with " + code);
                    // Echo the status (RFC 6455 §5.5.1); 1005 is never sent on the wire.
                    WebSocket.this.close(code == CLOSE_NO_STATUS ? CLOSE_NORMAL : code, "");
                }
                default -> throw fail(CLOSE_PROTOCOL_ERROR, "unknown control opcode " + opcode);
            }
        }
    }

    /**
     * Each write is one binary frame.
     */
    private final class FrameOutput extends OutputStream
    {
        @Override
        public void write(final int b) throws IOException
        {
            write(new byte[] {(byte)b}, 0, 1);
        }

        @Override
        public void write(final byte[] b, final int off, final int len) throws IOException
        {
            Objects.checkFromIndexSize(off, len, b.length);
            send(OP_BINARY, b, off, len);
        }

        @Override
        public void close()
        {
            WebSocket.this.close();
        }
    }

    @Override
    public String toString()
    {
        return "WebSocket[" + name + "]";
    }
}
