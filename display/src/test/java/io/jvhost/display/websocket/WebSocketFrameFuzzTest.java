package io.jvhost.display.websocket;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicInteger;

import com.code_intelligence.jazzer.junit.FuzzTest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the WebSocket frame reader with any bytes from a client. The message stream delivers at most the payload
 * bytes that were sent; everything the server writes back is a sequence of well-formed, unmasked, final frames
 * (pongs of at most 125 bytes, at most one close, last, carrying a code RFC 6455 §7.4 lets an endpoint send); a
 * failure is a WebSocketException or an EOFException, after which the connection is closed exactly once.
 */
class WebSocketFrameFuzzTest
{
    private static final int MAX_FRAME = 4096;

    @FuzzTest(maxDuration = "30s")
    void framesAreReadOrRefusedAndEveryReplyIsWellFormed(final byte[] input) throws IOException
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final AtomicInteger closes = new AtomicInteger();
        final WebSocket ws = new WebSocket("fuzz", new ByteArrayInputStream(input), out, closes::incrementAndGet,
            MAX_FRAME);
        final InputStream messages = ws.input();
        final byte[] buffer = new byte[512];
        long delivered = 0;
        boolean failed = false;
        try
        {
            for (int n; (n = messages.read(buffer, 0, buffer.length)) >= 0; )
            {
                delivered += n;
            }
        }
        catch (final WebSocketException e)
        {
            failed = true;
            assertThat(e.getMessage()).isNotBlank();
            assertThat(ws.isClosed()).as("closed after %s", e.getMessage()).isTrue();
        }
        catch (final EOFException e)
        {
            failed = true;
        }
        assertThat(delivered).isLessThanOrEqualTo(input.length);
        final int closeFrames = checkServerFrames(out.toByteArray());
        if (failed && ws.isClosed())
        {
            assertThat(closes.get()).as("connection closes").isEqualTo(1);
        }
        assertThat(closeFrames).isLessThanOrEqualTo(1);
        ws.close();
        assertThat(closes.get()).as("connection closes after close()").isEqualTo(1);
    }

    /**
     * @return how many close frames the server sent (the last frame when any).
     */
    private static int checkServerFrames(final byte[] bytes)
    {
        int at = 0;
        int closes = 0;
        while (at < bytes.length)
        {
            assertThat(closes).as("a frame after the close frame").isZero();
            final int b0 = bytes[at] & 0xFF;
            final int b1 = bytes[at + 1] & 0xFF;
            assertThat(b0 & 0xF0).as("FIN set, no reserved bits").isEqualTo(0x80);
            assertThat(b1 & 0x80).as("server frames are not masked").isZero();
            final int opcode = b0 & 0x0F;
            assertThat(opcode).as("a server reply is a pong or a close").isIn(WebSocket.OP_PONG, WebSocket.OP_CLOSE);
            final int length = b1 & 0x7F;
            assertThat(length).as("control frame payload").isLessThanOrEqualTo(125);
            assertThat(at + 2 + length).as("frame inside the output").isLessThanOrEqualTo(bytes.length);
            if (opcode == WebSocket.OP_CLOSE)
            {
                closes++;
                assertThat(length).as("close payload").isNotEqualTo(1);
                if (length >= 2)
                {
                    final int code = (bytes[at + 2] & 0xFF) << 8 | bytes[at + 3] & 0xFF;
                    assertThat(sendable(code)).as("close code %d may be sent", code).isTrue();
                }
            }
            at += 2 + length;
        }
        return closes;
    }

    /** RFC 6455 §7.4.1-2: the codes an endpoint may put on the wire. */
    private static boolean sendable(final int code)
    {
        return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999;
    }
}
