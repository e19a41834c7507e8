package io.jvhost.device.can.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.device.can.CanFrame;

/**
 * SocketCAN's {@code struct can_frame} (16 bytes) and {@code struct canfd_frame} (72 bytes), as a raw CAN socket reads
 * and writes them, in the host's byte order.
 * <pre>
 *   0        4     5                  6       7                   8
 *   +--------+-----+------------------+-------+-------------------+-----------+
 *   | can_id | len | __pad / fd flags | __res0| len8_dlc / __res1 | data[8|64]|
 *   +--------+-----+------------------+-------+-------------------+-----------+
 * </pre>
 * {@code can_id} holds the identifier (11 or 29 bits) and the flags EFF (bit 31: extended), RTR (bit 30) and ERR (bit
 * 29: an error frame, whose class bits say what happened; bus-off is 0x40). A CAN FD frame's flags are BRS (0x01), ESI
 * (0x02) and FDF (0x04).
 */
public final class SocketCanFrame
{
    public static final int CAN_MTU = 16;
    public static final int CANFD_MTU = 72;
    public static final int CAN_EFF_FLAG = 0x8000_0000;
    public static final int CAN_RTR_FLAG = 0x4000_0000;
    public static final int CAN_ERR_FLAG = 0x2000_0000;
    /** The error class of a bus-off error frame. */
    public static final int CAN_ERR_BUSOFF = 0x40;
    public static final int CANFD_FDF = 0x04;
    private static final int DATA = 8;

    /** What {@link #decode} found. */
    public static final int FRAME = 0;
    public static final int BUS_OFF = 1;
    /** Another error frame (ignored). */
    public static final int ERROR = 2;
    /** Not a frame: a read of another size or a length out of range. */
    public static final int ODD = 3;

    private MemorySegment buffer;

    /**
     * Points this view at {@code buffer} (at least {@link #CANFD_MTU} bytes).
     */
    public void wrap(final MemorySegment frameBuffer)
    {
        this.buffer = frameBuffer;
    }

    /**
     * Writes {@code frame} as a {@code can_frame} (classic and RTR) or a {@code canfd_frame} (FD, with FDF set).
     *
     * @return its size: {@link #CAN_MTU} or {@link #CANFD_MTU}.
     */
    public int encode(final CanFrame frame)
    {
        final int flags = frame.flags();
        int id = frame.canId();
        if ((flags & CanFrame.FLAG_EXTENDED) != 0)
        {
            id |= CAN_EFF_FLAG;
        }
        if ((flags & CanFrame.FLAG_RTR) != 0)
        {
            id |= CAN_RTR_FLAG;
        }
        final boolean fd = frame.fd();
        final int size = fd ? CANFD_MTU : CAN_MTU;
        buffer.set(ValueLayout.JAVA_INT_UNALIGNED, 0, id);
        buffer.set(ValueLayout.JAVA_BYTE, 4, (byte)frame.length());
        buffer.set(ValueLayout.JAVA_BYTE, 5, (byte)(fd ? CANFD_FDF : 0));
        buffer.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short)0);
        final int length = frame.rtr() ? 0 : frame.length();
        MemorySegment.copy(frame.bytes(), CanMessage.SDU, buffer, DATA, length);
        for (int i = DATA + length; i < size; i++)
        {
            buffer.set(ValueLayout.JAVA_BYTE, i, (byte)0);
        }
        return size;
    }

    /**
     * Reads the {@code size} bytes a read returned into {@code out} (a frame, with the virtio flags).
     *
     * @return {@link #FRAME}, {@link #BUS_OFF}, {@link #ERROR} or {@link #ODD}.
     */
    public int decode(final int size, final CanFrame out)
    {
        if (size != CAN_MTU && size != CANFD_MTU)
        {
            return ODD;
        }
        final int raw = buffer.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        if ((raw & CAN_ERR_FLAG) != 0)
        {
            return (raw & CAN_ERR_BUSOFF) != 0 ? BUS_OFF : ERROR;
        }
        final boolean fd = size == CANFD_MTU;
        final boolean extended = (raw & CAN_EFF_FLAG) != 0;
        final boolean rtr = !fd && (raw & CAN_RTR_FLAG) != 0;
        final int length = buffer.get(ValueLayout.JAVA_BYTE, 4) & 0xFF;
        if (fd ? length > CanMessage.MAX_SDU || !CanFrame.fdLength(length) : length > CanFrame.CLASSIC_MAX)
        {
            return ODD;
        }
        final int flags = (extended ? CanFrame.FLAG_EXTENDED : 0) | (fd ? CanFrame.FLAG_FD : 0)
            | (rtr ? CanFrame.FLAG_RTR : 0);
        out.set(raw & (extended ? CanFrame.EFF_MASK : CanFrame.SFF_MASK), flags, length, buffer, DATA);
        return FRAME;
    }
}
