package io.jvhost.display.websocket;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A client's close frame with a code no endpoint may send (RFC 6455 §7.4: 1005, 1006, 1015, under 1000, 1016-2999,
 * 5000 and up) is a protocol error answered with 1002, never echoed (found by WebSocketFrameFuzzTest).
 */
class WebSocketCloseCodeTest
{
    @ParameterizedTest
    @ValueSource(ints = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    void aCloseCodeThatMayNotBeSentIsAProtocolErrorAnsweredWith1002(final int code)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final WebSocket ws = new WebSocket("test", new ByteArrayInputStream(closeFrame(code)), out, () -> { }, 4096);

        assertThatThrownBy(() -> ws.input().read()).isInstanceOf(WebSocketException.class)
            .hasMessageContaining(Integer.toString(code));

        assertThat(sentCloseCode(out.toByteArray())).isEqualTo(WebSocket.CLOSE_PROTOCOL_ERROR);
        assertThat(ws.isClosed()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {1000, 1001, 1003, 1007, 1011, 3000, 4999})
    void aCloseCodeThatMayBeSentIsEchoed(final int code) throws Exception
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final WebSocket ws = new WebSocket("test", new ByteArrayInputStream(closeFrame(code)), out, () -> { }, 4096);

        assertThat(ws.input().read()).isEqualTo(-1);

        assertThat(sentCloseCode(out.toByteArray())).isEqualTo(code);
    }

    /** A masked close frame (mask 0) carrying {@code code}. */
    private static byte[] closeFrame(final int code)
    {
        return new byte[] {(byte)0x88, (byte)0x82, 0, 0, 0, 0, (byte)(code >>> 8), (byte)code};
    }

    private static int sentCloseCode(final byte[] frame)
    {
        assertThat(frame.length).as("one close frame with a code").isGreaterThanOrEqualTo(4);
        assertThat(frame[0] & 0xFF).isEqualTo(0x88);
        return (frame[2] & 0xFF) << 8 | frame[3] & 0xFF;
    }
}
