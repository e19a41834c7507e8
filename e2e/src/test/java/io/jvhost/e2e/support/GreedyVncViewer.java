package io.jvhost.e2e.support;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The most expensive viewer a display can have: RFB 3.8 without a password, Raw pixels (the largest messages) and
 * DesktopSize, and a request for the whole picture as soon as the previous update arrived (the first one
 * non-incremental, then incremental: whatever the guest flushes comes whole, without a busy loop on an idle screen).
 * Pixels are read and dropped on a thread of its own.
 */
public final class GreedyVncViewer implements AutoCloseable
{
    private static final int RAW = 0;
    private static final int DESKTOP_SIZE = -223;

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final Thread reader;
    private final AtomicLong updates = new AtomicLong();
    private final AtomicLong pixelBytes = new AtomicLong();
    private volatile int width;
    private volatile int height;
    private volatile String ended;

    private GreedyVncViewer(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
        this.out = socket.getOutputStream();
        socket.setSoTimeout(10_000);
        handshake();
        socket.setSoTimeout(0);
        this.reader = Thread.ofPlatform().daemon(true).name("greedy-vnc").start(this::readLoop);
    }

    /**
     * Connects and handshakes; the viewer then keeps asking for full frames until closed.
     */
    public static GreedyVncViewer connect(final InetSocketAddress address) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            socket.connect(address, 10_000);
            return new GreedyVncViewer(socket);
        }
        catch (final IOException | RuntimeException e)
        {
            socket.close();
            throw e;
        }
    }

    private void handshake() throws IOException
    {
        final byte[] version = new byte[12];
        in.readFully(version);
        out.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
        final int types = in.readUnsignedByte();
        if (types == 0)
        {
            throw new IOException("server refused: " + reason());
        }
        in.skipNBytes(types);
        out.write(1);
        if (in.readInt() != 0)
        {
            throw new IOException("security failed: " + reason());
        }
        out.write(1);
        width = in.readUnsignedShort();
        height = in.readUnsignedShort();
        in.skipNBytes(16);
        in.skipNBytes(in.readInt());
        // SetEncodings: Raw (0), DesktopSize (-223 = 0xFFFFFF21).
        out.write(new byte[] {2, 0, 0, 2, 0, 0, 0, RAW, (byte)0xFF, (byte)0xFF, (byte)0xFF, (byte)0x21});
        request(false);
    }

    private String reason() throws IOException
    {
        return new String(in.readNBytes(in.readInt()), StandardCharsets.UTF_8);
    }

    private void request(final boolean incremental) throws IOException
    {
        final int w = width;
        final int h = height;
        out.write(new byte[] {3, (byte)(incremental ? 1 : 0), 0, 0, 0, 0, (byte)(w >>> 8), (byte)w, (byte)(h >>> 8),
            (byte)h});
        out.flush();
    }

    private void readLoop()
    {
        try
        {
            while (true)
            {
                final int type = in.readUnsignedByte();
                switch (type)
                {
                    case 0 ->
                    {
                        in.readUnsignedByte();
                        final int rects = in.readUnsignedShort();
                        for (int i = 0; i < rects; i++)
                        {
                            in.readUnsignedShort();
                            in.readUnsignedShort();
                            final int w = in.readUnsignedShort();
                            final int h = in.readUnsignedShort();
                            final int encoding = in.readInt();
                            if (encoding == DESKTOP_SIZE)
                            {
                                width = w;
                                height = h;
                            }
                            else if (encoding == RAW)
                            {
                                final long bytes = 4L * w * h;
                                in.skipNBytes(bytes);
                                pixelBytes.addAndGet(bytes);
                            }
                            else
                            {
                                throw new IOException("unexpected encoding " + encoding);
                            }
                        }
                        updates.incrementAndGet();
                        request(true);
                    }
                    case 2 ->
                    {
                        // Bell.
                    }
                    case 3 ->
                    {
                        in.skipNBytes(3);
                        in.skipNBytes(in.readInt());
                    }
                    default -> throw new IOException("unexpected server message " + type);
                }
            }
        }
        catch (final EOFException e)
        {
            ended = "server closed the connection";
        }
        catch (final IOException e)
        {
            ended = socket.isClosed() ? "closed" : e.toString();
        }
    }

    /**
     * @return FramebufferUpdates read so far.
     */
    public long updates()
    {
        return updates.get();
    }

    /**
     * @return Raw pixel bytes read so far.
     */
    public long pixelBytes()
    {
        return pixelBytes.get();
    }

    /**
     * @return the picture size the server last announced.
     */
    public int width()
    {
        return width;
    }

    public int height()
    {
        return height;
    }

    /**
     * @return why the connection ended, or null while it is up.
     */
    public String ended()
    {
        return ended;
    }

    @Override
    public void close() throws IOException
    {
        socket.close();
        try
        {
            reader.join(10_000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
