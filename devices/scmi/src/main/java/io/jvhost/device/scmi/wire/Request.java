package io.jvhost.device.scmi.wire;

/**
 * An SCMI command as the virtio-scmi cmdq carries it (the device-readable part of a chain): the 32-bit message header
 * and the command's parameters, each a 32-bit little-endian word.
 * <pre>
 *   0                                4            8            12
 *   +--------------------------------+------------+------------+
 *   | header                         | param 0    | param 1    |  (as many as the command has)
 *   +--------------------------------+------------+------------+
 *   header:  31..28 reserved | 27..18 token | 17..10 protocol_id | 9..8 message_type | 7..0 message_id
 * </pre>
 * The device copies at most {@link #MAX_SIZE} bytes: no command it serves has more than two parameters.
 */
public final class Request extends Flyweight
{
    public static final int HEADER_SIZE = 4;
    public static final int MAX_SIZE = 16;

    public int header()
    {
        return u32(0);
    }

    public static int messageId(final int header)
    {
        return header & 0xFF;
    }

    public static int messageType(final int header)
    {
        return header >>> 8 & 0x3;
    }

    public static int protocolId(final int header)
    {
        return header >>> 10 & 0xFF;
    }

    /**
     * @return parameter {@code index} (0 or 1); the device checked that the request holds it.
     */
    public int param(final int index)
    {
        return u32(HEADER_SIZE + 4L * index);
    }
}
