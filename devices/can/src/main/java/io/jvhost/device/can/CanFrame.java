package io.jvhost.device.can;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.device.can.wire.CanMessage;

/**
 * One CAN or CAN FD frame as it travels between the device and its bus, held in the layout of
 * {@code struct virtio_can_rx} ({@link CanMessage}): msg_type RX, the payload length (an RTR frame's DLC), the
 * virtio flags (EXTENDED, FD, RTR) and the 11- or 29-bit identifier without flag bits. An RX buffer takes
 * {@link #size()} bytes of it as they are. Mutable and reused: nothing is allocated per frame.
 */
public final class CanFrame
{
    /** VIRTIO_CAN_FLAGS_EXTENDED: a 29-bit identifier. */
    public static final int FLAG_EXTENDED = 0x8000;
    /** VIRTIO_CAN_FLAGS_FD: a CAN FD frame. */
    public static final int FLAG_FD = 0x4000;
    /** VIRTIO_CAN_FLAGS_RTR: a remote transmission request (classic only, no payload). */
    public static final int FLAG_RTR = 0x2000;
    /** Every flag virtio-can defines. */
    public static final int KNOWN_FLAGS = FLAG_EXTENDED | FLAG_FD | FLAG_RTR;
    /** The largest standard (11-bit) and extended (29-bit) identifiers. */
    public static final int SFF_MASK = 0x7FF;
    public static final int EFF_MASK = 0x1FFF_FFFF;
    /** The largest classic payload. */
    public static final int CLASSIC_MAX = 8;

    final MemorySegment bytes = MemorySegment.ofArray(new byte[CanMessage.MAX_SIZE]);
    private final CanMessage message = new CanMessage();

    public CanFrame()
    {
        message.wrap(bytes);
        message.rxHeader(CanDevice.MSG_RX, 0, 0, 0);
    }

    /**
     * Sets the frame: {@code length} payload bytes from {@code payload} at {@code offset} (none for RTR, whose payload
     * reads as zeroes). The caller has checked the values against the frame's kind.
     */
    public CanFrame set(final int canId, final int flags, final int length, final MemorySegment payload,
        final long offset)
    {
        message.rxHeader(CanDevice.MSG_RX, length, flags, canId);
        if ((flags & FLAG_RTR) != 0)
        {
            zeroPayload(length);
        }
        else
        {
            MemorySegment.copy(payload, offset, bytes, CanMessage.SDU, length);
        }
        return this;
    }

    /**
     * Sets the frame from bytes, e.g. {@code set(0x123, 0, "JVHOST".getBytes())}; for tests and tools.
     */
    public CanFrame set(final int canId, final int flags, final byte[] payload)
    {
        return set(canId, flags, payload.length, MemorySegment.ofArray(payload), 0);
    }

    void copyFrom(final CanFrame other)
    {
        MemorySegment.copy(other.bytes, 0, bytes, 0, other.size());
    }

    private void zeroPayload(final int length)
    {
        for (int i = 0; i < length; i++)
        {
            bytes.set(ValueLayout.JAVA_BYTE, CanMessage.SDU + i, (byte)0);
        }
    }

    public int canId()
    {
        return message.canId();
    }

    public int flags()
    {
        return message.flags();
    }

    /**
     * @return the payload length; for an RTR frame, its DLC (0..8).
     */
    public int length()
    {
        return message.length();
    }

    public boolean extended()
    {
        return (flags() & FLAG_EXTENDED) != 0;
    }

    public boolean fd()
    {
        return (flags() & FLAG_FD) != 0;
    }

    public boolean rtr()
    {
        return (flags() & FLAG_RTR) != 0;
    }

    /**
     * @return payload byte {@code i}.
     */
    public int data(final int i)
    {
        return bytes.get(ValueLayout.JAVA_BYTE, CanMessage.SDU + i) & 0xFF;
    }

    /**
     * @return the payload, a copy (for tests and logs).
     */
    public byte[] payload()
    {
        return bytes.asSlice(CanMessage.SDU, rtr() ? 0 : length()).toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * @return the frame's bytes as an RX message carries them: the 16-byte header and the payload.
     */
    public int size()
    {
        return CanMessage.HEADER_SIZE + length();
    }

    /**
     * @return the frame's bytes in the virtio_can_rx layout (valid up to {@link #size()}).
     */
    public MemorySegment bytes()
    {
        return bytes;
    }

    /**
     * @return true when {@code length} is a CAN FD payload length (0..8, 12, 16, 20, 24, 32, 48, 64).
     */
    public static boolean fdLength(final int length)
    {
        return length <= CLASSIC_MAX || length == 12 || length == 16 || length == 20 || length == 24 || length == 32
            || length == 48 || length == 64;
    }

    @Override
    public String toString()
    {
        final StringBuilder s = new StringBuilder("id=0x").append(Integer.toHexString(canId()));
        if (extended())
        {
            s.append(" EXT");
        }
        if (fd())
        {
            s.append(" FD");
        }
        if (rtr())
        {
            s.append(" RTR");
        }
        s.append(" len=").append(length()).append(" data=");
        for (final byte b : payload())
        {
            s.append(String.format("%02x", b & 0xFF));
        }
        return s.toString();
    }
}
