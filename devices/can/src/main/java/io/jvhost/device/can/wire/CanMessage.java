package io.jvhost.device.can.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_can_tx_out} (Txq, msg_type TX 0x0001) and {@code struct virtio_can_rx} (Rxq, msg_type RX
 * 0x0101): the two share one layout. The first two bytes are also {@code struct virtio_can_control_out}'s msg_type.
 * <pre>
 *   0          2        4                      5         6                      8       12       16
 *   +----------+--------+----------------------+---------+----------------------+-------+--------+----------+
 *   | msg_type | length | reserved_classic_dlc | padding | reserved_xl_priority | flags | can_id | sdu[len] |
 *   +----------+--------+----------------------+---------+----------------------+-------+--------+----------+
 * </pre>
 * {@code length} is the payload size (0..8 classic, 0..64 FD; the DLC of an RTR frame, which carries no payload);
 * {@code flags} holds EXTENDED (0x8000), FD (0x4000) and RTR (0x2000); {@code can_id} is 11 or 29 bits, its three top
 * bits 0. Little-endian.
 */
public final class CanMessage extends Flyweight
{
    /** The header before {@code sdu}. */
    public static final int HEADER_SIZE = 16;
    /** The largest payload (CAN FD). */
    public static final int MAX_SDU = 64;
    /** The largest message: the header and a CAN FD payload. */
    public static final int MAX_SIZE = HEADER_SIZE + MAX_SDU;
    /** Where {@code sdu} starts. */
    public static final int SDU = HEADER_SIZE;

    public int msgType()
    {
        return u16(0);
    }

    public int length()
    {
        return u16(2);
    }

    public int flags()
    {
        return u32(8);
    }

    public int canId()
    {
        return u32(12);
    }

    /**
     * Writes the header of an RX message (reserved bytes 0); the caller puts the payload at {@link #SDU}.
     */
    public void rxHeader(final int msgType, final int length, final int flags, final int canId)
    {
        u16(0, msgType);
        u16(2, length);
        u32(4, 0);
        u32(8, flags);
        u32(12, canId);
    }
}
