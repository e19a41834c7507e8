package io.jvhost.e2e.support;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A VNC viewer that asks for another desktop size the way noVNC's remote resizing does (rfbproto: ExtendedDesktopSize
 * announced, SetDesktopSize with one screen covering the picture). RFB 3.8 without a password, Raw pixels (read and
 * dropped); it reads updates only while waiting for an ExtendedDesktopSize rectangle.
 */
public final class ResizingVncViewer implements AutoCloseable
{
    private static final int EXTENDED_DESKTOP_SIZE = -308;

    private final Socket socket = new Socket();
    private final DataInputStream in;
    private final DataOutputStream out;

    public ResizingVncViewer(final InetSocketAddress address, final int readTimeoutMillis) throws IOException
    {
        socket.connect(address, 10_000);
        socket.setSoTimeout(readTimeoutMillis);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
        out = new DataOutputStream(socket.getOutputStream());
        in.readFully(new byte[12]);
        out.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
        in.readFully(new byte[in.readUnsignedByte()]);
        out.writeByte(1);
        if (in.readInt() != 0)
        {
            throw new IOException("security handshake failed");
        }
        out.writeByte(1);
        in.readFully(new byte[20]);
        in.readFully(new byte[in.readInt()]);
        out.writeByte(2);
        out.writeByte(0);
        out.writeShort(2);
        out.writeInt(0);
        out.writeInt(EXTENDED_DESKTOP_SIZE);
        out.flush();
    }

    /**
     * Asks for updates until one carries an ExtendedDesktopSize rectangle.
     *
     * @return its reason (x), status (y), width and height.
     */
    public int[] nextExtendedDesktopSize() throws IOException
    {
        while (true)
        {
            out.writeByte(3);
            out.writeByte(1);
            out.writeShort(0);
            out.writeShort(0);
            out.writeShort(8192);
            out.writeShort(8192);
            out.flush();
            if (in.readUnsignedByte() != 0)
            {
                throw new IOException("expected a FramebufferUpdate");
            }
            in.readUnsignedByte();
            final int rects = in.readUnsignedShort();
            int[] found = null;
            for (int i = 0; i < rects; i++)
            {
                final int x = in.readUnsignedShort();
                final int y = in.readUnsignedShort();
                final int w = in.readUnsignedShort();
                final int h = in.readUnsignedShort();
                final int encoding = in.readInt();
                if (encoding == EXTENDED_DESKTOP_SIZE)
                {
                    in.readFully(new byte[3 + 16 * in.readUnsignedByte()]);
                    found = new int[] {x, y, w, h};
                }
                else if (encoding == 0)
                {
                    in.skipNBytes(4L * w * h);
                }
                else
                {
                    throw new IOException("unexpected encoding " + encoding);
                }
            }
            if (null != found)
            {
                return found;
            }
        }
    }

    /**
     * SetDesktopSize with one screen (id 0, flags 0) covering {@code width}×{@code height}.
     */
    public void setDesktopSize(final int width, final int height) throws IOException
    {
        out.writeByte(251);
        out.writeByte(0);
        out.writeShort(width);
        out.writeShort(height);
        out.writeByte(1);
        out.writeByte(0);
        out.writeInt(0);
        out.writeShort(0);
        out.writeShort(0);
        out.writeShort(width);
        out.writeShort(height);
        out.writeInt(0);
        out.flush();
    }

    @Override
    public void close() throws IOException
    {
        socket.close();
    }
}
