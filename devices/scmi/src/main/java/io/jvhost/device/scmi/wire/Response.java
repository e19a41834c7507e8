package io.jvhost.device.scmi.wire;

/**
 * An SCMI response as the device writes it into the writable part of a cmdq chain: the command's header, unchanged
 * (its token is how the agent matches the answer), the 32-bit signed status and, for SUCCESS, the return values.
 * <pre>
 *   0          4          8
 *   +----------+----------+-------------------------------------------+
 *   | header   | status   | return values (32-bit words, strings of 16 |
 *   |          | (s32)    | bytes NUL-padded), per command            |
 *   +----------+----------+-------------------------------------------+
 *   BASE     VERSION / IMPL_VERSION / PROTOCOL_ATTRIBUTES / MESSAGE_ATTRIBUTES   u32                    12 bytes
 *            DISCOVER_VENDOR / DISCOVER_SUB_VENDOR                              char[16]               24
 *            DISCOVER_LIST_PROTOCOLS   u32 num, u8 protocols[num] in words of 4  12 + 4 * ceil(num / 4)
 *   SENSOR   PROTOCOL_ATTRIBUTES       u16 num_sensors, u8 max_requests, u8 0, u32 reg_addr_low,
 *                                      u32 reg_addr_high, u32 reg_length                                24
 *            DESCRIPTION_GET           u16 num_returned, u16 num_remaining, then per sensor
 *                                      u32 id, u32 attributes_low, u32 attributes_high, char name[16]  12 + 28 * n
 *            AXIS_DESCRIPTION_GET      u32 returned(5..0) | remaining(31..26), then per axis
 *                                      u32 id, u32 attributes_low, u32 attributes_high, char name[16]  12 + 28 * n
 *            READING_GET               per axis (or one, scalar) u32 value_low, u32 value_high,
 *                                      u32 timestamp_low, u32 timestamp_high                           8 + 16 * n
 *            CONFIG_GET                u32 sensor_config                                               12
 *   any error, CONFIG_SET, CONTINUOUS_UPDATE_NOTIFY: header and status                                 8
 * </pre>
 */
public final class Response extends Flyweight
{
    public static final int HEAD_SIZE = 8;
    /** Size of an SCMI short string (with its NUL). */
    public static final int STRING_SIZE = 16;

    /**
     * Writes the header and {@code status}.
     *
     * @return {@link #HEAD_SIZE}.
     */
    public int head(final int header, final int status)
    {
        u32(0, header);
        u32(4, status);
        return HEAD_SIZE;
    }

    /**
     * Writes a 32-bit return value at {@code offset}.
     *
     * @return the offset after it.
     */
    public int word(final int offset, final int value)
    {
        u32(offset, value);
        return offset + 4;
    }

    /**
     * Writes a 16-byte NUL-padded string at {@code offset}.
     *
     * @return the offset after it.
     */
    public int string(final int offset, final byte[] string16)
    {
        bytes(offset, string16);
        return offset + STRING_SIZE;
    }

    public int status()
    {
        return u32(4);
    }
}
