package io.jvhost.device.rtc.wire;

import io.jvhost.device.wire.Flyweight;

/**
 * {@code struct virtio_rtc_req_head}, the start of every request.
 * <pre>
 *   0          2              8
 *   +----------+--------------+
 *   | msg_type | reserved[6]  |
 *   +----------+--------------+
 * </pre>
 */
public final class RequestHead extends Flyweight
{
    public static final int SIZE = 8;

    public int msgType()
    {
        return u16(0);
    }
}
