package io.jvhost.vhostuser.gpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;

/**
 * Just enough of a guest virtio-gpu driver to send 2D commands the way Linux does (command in one device-readable
 * buffer, a backing-entry array in a second one, the response in a device-writable buffer) and wait for each answer.
 * Layouts are written out with literal offsets from the virtio spec (§5.7.6), independent of the device's constants.
 */
final class GpuDriver
{
    static final int GET_DISPLAY_INFO = 0x0100;
    static final int RESOURCE_CREATE_2D = 0x0101;
    static final int SET_SCANOUT = 0x0103;
    static final int RESOURCE_FLUSH = 0x0104;
    static final int TRANSFER_TO_HOST_2D = 0x0105;
    static final int RESOURCE_ATTACH_BACKING = 0x0106;
    static final int GET_EDID = 0x010a;
    static final int UPDATE_CURSOR = 0x0300;
    static final int MOVE_CURSOR = 0x0301;
    static final int OK_NODATA = 0x1100;
    static final int OK_DISPLAY_INFO = 0x1101;
    static final int OK_EDID = 0x1104;
    static final int FLAG_FENCE = 1;

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final GuestRam ram;
    private final FrontendQueue control;
    private final FrontendQueue cursor;
    private final long commandGpa;
    private final long entriesGpa;
    private final long responseGpa;
    private final long cursorGpa;
    private long fence = 100;
    private boolean indirect = true;

    GpuDriver(final GuestRam ram, final FrontendQueue control, final FrontendQueue cursor)
    {
        this.ram = ram;
        this.control = control;
        this.cursor = cursor;
        this.commandGpa = ram.allocate(256, 64);
        this.entriesGpa = ram.allocate(64 * 1024, 64);
        this.responseGpa = ram.allocate(2048, 64);
        this.cursorGpa = ram.allocate(64, 64);
    }

    /**
     * With false, commands go in direct descriptor chains instead of indirect tables.
     */
    void indirect(final boolean useIndirect)
    {
        this.indirect = useIndirect;
    }

    private static ByteBuffer command(final int type, final int size, final boolean fenced, final long fenceId)
    {
        final ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, type);
        b.putInt(4, fenced ? FLAG_FENCE : 0);
        b.putLong(8, fenced ? fenceId : 0);
        return b;
    }

    /**
     * Sends a control command and waits for its response.
     *
     * @return the response (the whole writable buffer of {@code responseSize} bytes).
     */
    ByteBuffer send(final ByteBuffer cmd, final byte[] extra, final int responseSize) throws Exception
    {
        ram.write(commandGpa, cmd.array(), 0, cmd.capacity());
        ram.fill(responseGpa, responseSize, (byte)0xEE);
        final long[] gpas;
        final int[] lengths;
        if (null != extra)
        {
            ram.write(entriesGpa, extra, 0, extra.length);
            gpas = new long[] {commandGpa, entriesGpa, responseGpa};
            lengths = new int[] {cmd.capacity(), extra.length, responseSize};
        }
        else
        {
            gpas = new long[] {commandGpa, responseGpa};
            lengths = new int[] {cmd.capacity(), responseSize};
        }
        // With INDIRECT_DESC Linux puts every multi-buffer command in an indirect table: so do we.
        final int head = indirect ? control.addIndirect(gpas, lengths, gpas.length - 1, 1)
            : control.add(gpas, lengths, gpas.length - 1, 1);
        if (head < 0)
        {
            throw new IllegalStateException("control queue full");
        }
        control.publishAndKick();
        final int used = control.awaitUsed(WAIT);
        if (used != 1)
        {
            throw new IllegalStateException("no response to command 0x" + Integer.toHexString(cmd.getInt(0))
                + " within " + WAIT + " (used " + used + ")");
        }
        return ByteBuffer.wrap(ram.read(responseGpa, responseSize)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private int nodata(final ByteBuffer cmd, final byte[] extra) throws Exception
    {
        return send(cmd, extra, 24).getInt(0);
    }

    ByteBuffer getDisplayInfo() throws Exception
    {
        return send(command(GET_DISPLAY_INFO, 24, false, 0), null, 408);
    }

    ByteBuffer getEdid(final int scanout) throws Exception
    {
        final ByteBuffer c = command(GET_EDID, 32, false, 0);
        c.putInt(24, scanout);
        return send(c, null, 1056);
    }

    int create2d(final int resource, final int format, final int width, final int height) throws Exception
    {
        final ByteBuffer c = command(RESOURCE_CREATE_2D, 40, false, 0);
        c.putInt(24, resource).putInt(28, format).putInt(32, width).putInt(36, height);
        return nodata(c, null);
    }

    /**
     * Attaches backing split into {@code pieces} entries of about equal size.
     */
    int attachBacking(final int resource, final long gpa, final long length, final int pieces) throws Exception
    {
        final ByteBuffer c = command(RESOURCE_ATTACH_BACKING, 32, false, 0);
        c.putInt(24, resource).putInt(28, pieces);
        final ByteBuffer entries = ByteBuffer.allocate(16 * pieces).order(ByteOrder.LITTLE_ENDIAN);
        final long piece = (length / pieces + 4095) & ~4095L;
        long at = gpa;
        for (int i = 0; i < pieces; i++)
        {
            final long len = i == pieces - 1 ? gpa + length - at : piece;
            entries.putLong(16 * i, at).putInt(16 * i + 8, (int)len);
            at += len;
        }
        return nodata(c, entries.array());
    }

    int setScanout(final int scanout, final int resource, final int x, final int y, final int width, final int height)
        throws Exception
    {
        final ByteBuffer c = command(SET_SCANOUT, 48, false, 0);
        c.putInt(24, x).putInt(28, y).putInt(32, width).putInt(36, height).putInt(40, scanout).putInt(44, resource);
        return nodata(c, null);
    }

    /**
     * TRANSFER_TO_HOST_2D with Linux's offset ({@code y * pitch + x * 4}).
     */
    int transfer(final int resource, final int pitch, final int x, final int y, final int width, final int height,
        final boolean fenced) throws Exception
    {
        final ByteBuffer c = command(TRANSFER_TO_HOST_2D, 56, fenced, fence++);
        c.putInt(24, x).putInt(28, y).putInt(32, width).putInt(36, height).putLong(40, (long)y * pitch + x * 4L)
            .putInt(48, resource);
        return nodata(c, null);
    }

    int flush(final int resource, final int x, final int y, final int width, final int height) throws Exception
    {
        final ByteBuffer c = command(RESOURCE_FLUSH, 48, false, 0);
        c.putInt(24, x).putInt(28, y).putInt(32, width).putInt(36, height).putInt(40, resource);
        return nodata(c, null);
    }

    /**
     * A cursor command on the cursor queue: 56 bytes, no response buffer (as Linux sends it).
     */
    void cursorCommand(final int type, final int scanout, final int x, final int y, final int resource,
        final int hotX, final int hotY) throws Exception
    {
        final ByteBuffer c = command(type, 56, false, 0);
        c.putInt(24, scanout).putInt(28, x).putInt(32, y).putInt(40, resource).putInt(44, hotX).putInt(48, hotY);
        ram.write(cursorGpa, c.array(), 0, 56);
        if (cursor.add(new long[] {cursorGpa}, new int[] {56}, 1, 0) < 0)
        {
            throw new IllegalStateException("cursor queue full");
        }
        cursor.publishAndKick();
        if (cursor.awaitUsed(WAIT) != 1)
        {
            throw new IllegalStateException("cursor command 0x" + Integer.toHexString(type) + " not returned");
        }
    }
}
