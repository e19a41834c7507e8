package io.jvhost.display;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import io.jvhost.display.rfb.ClientPixelFormat;

/**
 * A small RFB 3.8 client written from RFC 6143 for the tests: handshake (None or VNC Authentication), SetPixelFormat,
 * SetEncodings, update requests, input messages, and a decoder for Raw, Zlib, ZRLE, DesktopSize, Cursor, VMware's alpha
 * cursor and QEMU's extended-key pseudo-rectangle that keeps its own copy of the framebuffer as {@code 0x00RRGGBB}
 * ints.
 */
final class RfbTestClient implements Closeable
{
    record Rect(int x, int y, int width, int height, int encoding)
    {
    }

    private final Closeable connection;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final Inflater zlib = new Inflater();
    private final Inflater zrle = new Inflater();
    private ClientPixelFormat format = ClientPixelFormat.SERVER;
    int width;
    int height;
    String desktopName;
    int[] pixels;
    boolean extendedKeysAcknowledged;
    /**
     * The last cursor pseudo-rectangle of either kind: its size and hotspot. For Cursor (-239) its pixels
     * ({@code 0x00RRGGBB}) and mask; for the VMware alpha cursor its pixels' bytes as sent (R,G,B,A). How many of
     * each came.
     */
    int cursorWidth;
    int cursorHeight;
    int cursorHotX;
    int cursorHotY;
    int[] cursorPixels;
    boolean[] cursorMask;
    int cursorUpdates;
    byte[] cursorRgba;
    int vmwareCursorUpdates;
    /** The screens of the last ExtendedDesktopSize rectangle: id, x, y, width, height, flags each. */
    int[][] extendedScreens;

    RfbTestClient(final InputStream input, final OutputStream output, final Closeable connection)
    {
        this.connection = connection;
        this.in = new DataInputStream(new BufferedInputStream(input));
        this.out = new DataOutputStream(output);
    }

    static RfbTestClient connect(final InetSocketAddress address) throws IOException
    {
        final Socket socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        return new RfbTestClient(socket.getInputStream(), socket.getOutputStream(), socket);
    }

    /**
     * Version, security type None, ClientInit, ServerInit.
     */
    RfbTestClient handshake() throws IOException
    {
        version();
        final int count = in.readUnsignedByte();
        final byte[] types = in.readNBytes(count);
        if (count != 1 || types[0] != 1)
        {
            throw new IOException("expected only security type None, got " + java.util.Arrays.toString(types));
        }
        out.writeByte(1);
        out.flush();
        final int result = in.readInt();
        if (result != 0)
        {
            throw new IOException("SecurityResult " + result);
        }
        return init();
    }

    void version() throws IOException
    {
        final byte[] version = in.readNBytes(12);
        if (!"RFB 003.008\n".equals(new String(version, StandardCharsets.US_ASCII)))
        {
            throw new IOException("bad server version " + new String(version, StandardCharsets.US_ASCII));
        }
        out.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /**
     * VNC Authentication answering the challenge with {@code response(challenge)}.
     *
     * @return the SecurityResult (0 OK); on failure the reason is in {@link #failureReason}.
     */
    int vncAuth(final java.util.function.UnaryOperator<byte[]> response) throws IOException
    {
        version();
        final int count = in.readUnsignedByte();
        final byte[] types = in.readNBytes(count);
        if (count != 1 || types[0] != 2)
        {
            throw new IOException("expected only security type VNC Authentication, got "
                + java.util.Arrays.toString(types));
        }
        out.writeByte(2);
        out.flush();
        final byte[] challenge = in.readNBytes(16);
        out.write(response.apply(challenge));
        out.flush();
        final int result = in.readInt();
        if (result != 0)
        {
            final int length = in.readInt();
            failureReason = new String(in.readNBytes(length), StandardCharsets.UTF_8);
        }
        return result;
    }

    String failureReason;

    RfbTestClient init() throws IOException
    {
        out.writeByte(1);
        out.flush();
        width = in.readUnsignedShort();
        height = in.readUnsignedShort();
        final byte[] pf = in.readNBytes(16);
        final ClientPixelFormat server = ClientPixelFormat.read(pf, 0);
        if (!server.equals(ClientPixelFormat.SERVER))
        {
            throw new IOException("unexpected server pixel format " + server);
        }
        final int length = in.readInt();
        desktopName = new String(in.readNBytes(length), StandardCharsets.UTF_8);
        pixels = new int[width * height];
        return this;
    }

    void setPixelFormat(final ClientPixelFormat f) throws IOException
    {
        final io.jvhost.display.rfb.ByteSink sink = new io.jvhost.display.rfb.ByteSink(20);
        sink.u8(0);
        sink.u8(0);
        sink.u8(0);
        sink.u8(0);
        f.write(sink);
        out.write(sink.array(), 0, sink.length());
        out.flush();
        format = f;
    }

    void setEncodings(final int... encodings) throws IOException
    {
        out.writeByte(2);
        out.writeByte(0);
        out.writeShort(encodings.length);
        for (final int e : encodings)
        {
            out.writeInt(e);
        }
        out.flush();
    }

    void requestUpdate(final boolean incremental) throws IOException
    {
        out.writeByte(3);
        out.writeByte(incremental ? 1 : 0);
        out.writeShort(0);
        out.writeShort(0);
        out.writeShort(width);
        out.writeShort(height);
        out.flush();
    }

    void key(final boolean down, final int keysym) throws IOException
    {
        out.writeByte(4);
        out.writeByte(down ? 1 : 0);
        out.writeShort(0);
        out.writeInt(keysym);
        out.flush();
    }

    void qemuKey(final boolean down, final int keysym, final int keycode) throws IOException
    {
        out.writeByte(255);
        out.writeByte(0);
        out.writeShort(down ? 1 : 0);
        out.writeInt(keysym);
        out.writeInt(keycode);
        out.flush();
    }

    void pointer(final int mask, final int x, final int y) throws IOException
    {
        out.writeByte(5);
        out.writeByte(mask);
        out.writeShort(x);
        out.writeShort(y);
        out.flush();
    }

    void cutText(final String text) throws IOException
    {
        final byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        out.writeByte(6);
        out.write(new byte[3]);
        out.writeInt(bytes.length);
        out.write(bytes);
        out.flush();
    }

    /**
     * SetDesktopSize (rfbproto, message 251) with the given screens ({id, x, y, width, height, flags} each).
     */
    void setDesktopSize(final int w, final int h, final int[]... screens) throws IOException
    {
        out.writeByte(251);
        out.writeByte(0);
        out.writeShort(w);
        out.writeShort(h);
        out.writeByte(screens.length);
        out.writeByte(0);
        for (final int[] s : screens)
        {
            out.writeInt(s[0]);
            out.writeShort(s[1]);
            out.writeShort(s[2]);
            out.writeShort(s[3]);
            out.writeShort(s[4]);
            out.writeInt(s[5]);
        }
        out.flush();
    }

    /**
     * SetDesktopSize with one screen covering the picture, as noVNC sends it.
     */
    void setDesktopSize(final int w, final int h) throws IOException
    {
        setDesktopSize(w, h, new int[] {0, 0, 0, w, h, 0});
    }

    /**
     * An ExtendedDesktopSize rectangle: x is the reason, y the status; the size applies unless it answers this client's
     * request with an error (as noVNC does).
     */
    private void readExtendedDesktopSize(final Rect r) throws IOException
    {
        final int count = in.readUnsignedByte();
        in.readFully(new byte[3]);
        extendedScreens = new int[count][];
        for (int i = 0; i < count; i++)
        {
            extendedScreens[i] = new int[] {in.readInt(), in.readUnsignedShort(), in.readUnsignedShort(),
                in.readUnsignedShort(), in.readUnsignedShort(), in.readInt()};
        }
        if (r.x() != 1 || r.y() == 0)
        {
            width = r.width();
            height = r.height();
            pixels = new int[width * height];
        }
    }

    void raw(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    /**
     * Reads one FramebufferUpdate and applies it.
     *
     * @return its rectangles.
     */
    List<Rect> readUpdate() throws IOException
    {
        final int type = in.readUnsignedByte();
        if (type != 0)
        {
            throw new IOException("expected FramebufferUpdate (0), got message type " + type);
        }
        in.readUnsignedByte();
        final int count = in.readUnsignedShort();
        final List<Rect> rects = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final Rect r = new Rect(in.readUnsignedShort(), in.readUnsignedShort(), in.readUnsignedShort(),
                in.readUnsignedShort(), in.readInt());
            rects.add(r);
            switch (r.encoding())
            {
                case 0 -> readRaw(in, r);
                case 6 -> readZlib(r);
                case 16 -> readZrle(r);
                case -223 ->
                {
                    width = r.width();
                    height = r.height();
                    pixels = new int[width * height];
                }
                case -308 -> readExtendedDesktopSize(r);
                case -258 -> extendedKeysAcknowledged = true;
                case -239 -> readCursor(r);
                case 0x574d5664 -> readVMwareCursor(r);
                default -> throw new IOException("unexpected encoding " + r.encoding());
            }
        }
        return rects;
    }

    /**
     * @return true when the server closed the connection (reads EOF within the socket timeout).
     */
    boolean closedByServer()
    {
        try
        {
            while (true)
            {
                if (in.read() < 0)
                {
                    return true;
                }
            }
        }
        catch (final IOException e)
        {
            return !(e instanceof java.net.SocketTimeoutException);
        }
    }

    private void readRaw(final DataInputStream src, final Rect r) throws IOException
    {
        for (int y = 0; y < r.height(); y++)
        {
            for (int x = 0; x < r.width(); x++)
            {
                pixels[(r.y() + y) * width + r.x() + x] = readPixel(src, format.bytesPerPixel());
            }
        }
    }

    private void readCursor(final Rect r) throws IOException
    {
        final int w = r.width();
        final int h = r.height();
        final int[] p = new int[w * h];
        for (int i = 0; i < p.length; i++)
        {
            p[i] = readPixel(in, format.bytesPerPixel());
        }
        final int rowBytes = (w + 7) / 8;
        final byte[] bits = in.readNBytes(rowBytes * h);
        final boolean[] mask = new boolean[w * h];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                mask[y * w + x] = (bits[y * rowBytes + x / 8] & 0x80 >>> (x % 8)) != 0;
            }
        }
        cursorWidth = w;
        cursorHeight = h;
        cursorHotX = r.x();
        cursorHotY = r.y();
        cursorPixels = p;
        cursorMask = mask;
        cursorUpdates++;
    }

    /**
     * VMware cursor: a cursor type (only 1, alpha, is expected), a padding byte, then a big-endian
     * {@code R<<24|G<<16|B<<8|A} per pixel.
     */
    private void readVMwareCursor(final Rect r) throws IOException
    {
        final int type = in.readUnsignedByte();
        if (type != 1)
        {
            throw new IOException("expected the VMware alpha cursor (type 1), got type " + type);
        }
        final int padding = in.readUnsignedByte();
        if (padding != 0)
        {
            throw new IOException("VMware cursor padding " + padding);
        }
        final byte[] rgba = in.readNBytes(4 * r.width() * r.height());
        if (rgba.length != 4 * r.width() * r.height())
        {
            throw new IOException("short VMware cursor");
        }
        cursorWidth = r.width();
        cursorHeight = r.height();
        cursorHotX = r.x();
        cursorHotY = r.y();
        cursorRgba = rgba;
        vmwareCursorUpdates++;
    }

    private void readZlib(final Rect r) throws IOException
    {
        final byte[] data = inflate(zlib, in.readNBytes(in.readInt()));
        readRaw(new DataInputStream(new java.io.ByteArrayInputStream(data)), r);
    }

    private void readZrle(final Rect r) throws IOException
    {
        final byte[] data = inflate(zrle, in.readNBytes(in.readInt()));
        final DataInputStream t = new DataInputStream(new java.io.ByteArrayInputStream(data));
        final int cp = format.cpixelBytes();
        for (int ty = 0; ty < r.height(); ty += 64)
        {
            final int th = Math.min(64, r.height() - ty);
            for (int tx = 0; tx < r.width(); tx += 64)
            {
                final int tw = Math.min(64, r.width() - tx);
                final int[] tile = new int[tw * th];
                final int sub = t.readUnsignedByte();
                if (sub == 0)
                {
                    for (int i = 0; i < tile.length; i++)
                    {
                        tile[i] = readPixel(t, cp);
                    }
                }
                else if (sub == 1)
                {
                    java.util.Arrays.fill(tile, readPixel(t, cp));
                }
                else if (sub <= 16)
                {
                    final int[] palette = new int[sub];
                    for (int i = 0; i < sub; i++)
                    {
                        palette[i] = readPixel(t, cp);
                    }
                    final int bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4;
                    for (int y = 0; y < th; y++)
                    {
                        int b = 0;
                        int left = 0;
                        for (int x = 0; x < tw; x++)
                        {
                            if (left == 0)
                            {
                                b = t.readUnsignedByte();
                                left = 8;
                            }
                            left -= bits;
                            tile[y * tw + x] = palette[b >>> left & (1 << bits) - 1];
                        }
                    }
                }
                else if (sub == 128)
                {
                    int i = 0;
                    while (i < tile.length)
                    {
                        final int v = readPixel(t, cp);
                        final int length = runLength(t);
                        for (int k = 0; k < length; k++)
                        {
                            tile[i++] = v;
                        }
                    }
                }
                else if (sub >= 130)
                {
                    final int[] palette = new int[sub - 128];
                    for (int i = 0; i < palette.length; i++)
                    {
                        palette[i] = readPixel(t, cp);
                    }
                    int i = 0;
                    while (i < tile.length)
                    {
                        final int index = t.readUnsignedByte();
                        final int length = (index & 128) != 0 ? runLength(t) : 1;
                        for (int k = 0; k < length; k++)
                        {
                            tile[i++] = palette[index & 127];
                        }
                    }
                }
                else
                {
                    throw new IOException("bad ZRLE subencoding " + sub);
                }
                for (int y = 0; y < th; y++)
                {
                    System.arraycopy(tile, y * tw, pixels, (r.y() + ty + y) * width + r.x() + tx, tw);
                }
            }
        }
        if (t.available() != 0)
        {
            throw new IOException(t.available() + " bytes left over in a ZRLE rectangle");
        }
    }

    private static int runLength(final DataInputStream t) throws IOException
    {
        int length = 1;
        int b;
        do
        {
            b = t.readUnsignedByte();
            length += b;
        }
        while (b == 255);
        return length;
    }

    private static byte[] inflate(final Inflater inflater, final byte[] compressed) throws IOException
    {
        inflater.setInput(compressed);
        final ByteArrayOutputStream result = new ByteArrayOutputStream();
        final byte[] buffer = new byte[65536];
        try
        {
            while (true)
            {
                final int n = inflater.inflate(buffer);
                result.write(buffer, 0, n);
                if (n == 0 && (inflater.needsInput() || inflater.finished()))
                {
                    break;
                }
            }
        }
        catch (final DataFormatException e)
        {
            throw new IOException("bad zlib data: " + e.getMessage(), e);
        }
        return result.toByteArray();
    }

    /**
     * Reads a (C)PIXEL of {@code bytes} bytes and turns it back into {@code 0x00RRGGBB}.
     */
    private int readPixel(final DataInputStream src, final int bytes) throws IOException
    {
        int v = 0;
        final byte[] b = src.readNBytes(bytes);
        if (b.length != bytes)
        {
            throw new IOException("short pixel");
        }
        for (int i = 0; i < bytes; i++)
        {
            final int k = format.bigEndian() ? i : bytes - 1 - i;
            v = v << 8 | b[k] & 0xFF;
        }
        if (bytes == 3 && format.bitsPerPixel() == 32)
        {
            final long colour = (long)format.redMax() << format.redShift() | (long)format.greenMax() << format
                .greenShift() | (long)format.blueMax() << format.blueShift();
            if ((colour & 0xFF00_0000L) != 0)
            {
                v <<= 8;
            }
        }
        final int r = (v >>> format.redShift() & format.redMax()) * 255 / format.redMax();
        final int g = (v >>> format.greenShift() & format.greenMax()) * 255 / format.greenMax();
        final int bl = (v >>> format.blueShift() & format.blueMax()) * 255 / format.blueMax();
        return r << 16 | g << 8 | bl;
    }

    int pixel(final int x, final int y)
    {
        return pixels[y * width + x];
    }

    @Override
    public void close() throws IOException
    {
        zlib.end();
        zrle.end();
        connection.close();
    }
}
