package io.jvhost.device.template;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.ServedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link TemplateDevice} behind the real vhost-user back-end, driven by the in-process front-end: what a guest driver
 * for it would do, hostile requests included.
 */
@Timeout(60)
class TemplateFrontendTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private TemplateDevice device;
    private ServedDevice served;

    /** One answered request: the used length and the bytes of the writable buffer. */
    private record Answer(int usedLength, byte[] bytes)
    {
        int status()
        {
            return MemorySegment.ofArray(bytes).get(LE32, 0);
        }

        byte[] data()
        {
            return Arrays.copyOfRange(bytes, 4, usedLength);
        }
    }

    @BeforeEach
    void setUp() throws Exception
    {
        device = new TemplateDevice("template0");
        served = ServedDevice.serve("template0", device, dir.resolve("template.sock"));
    }

    @AfterEach
    void tearDown()
    {
        served.close();
    }

    private static byte[] request(final int op, final long claimedLength, final byte[] data)
    {
        final byte[] b = new byte[TemplateRequest.SIZE + data.length];
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 0, op);
        s.set(LE32, 4, (int)claimedLength);
        System.arraycopy(data, 0, b, TemplateRequest.SIZE, data.length);
        return b;
    }

    /**
     * Sends {@code request} as one readable buffer (none when empty) and one writable buffer of {@code writable}
     * bytes (none when 0), as a direct or an indirect chain, and waits for the answer.
     */
    private static Answer send(final FrontendQueue q, final byte[] request, final int writable,
        final boolean indirect) throws Exception
    {
        final FrontendQueue.Reply r = q.exchange(request, writable, indirect, WAIT);
        return new Answer(r.usedLength(), r.bytes());
    }

    private static Answer send(final FrontendQueue q, final byte[] request, final int writable) throws Exception
    {
        return send(q, request, writable, false);
    }

    @Test
    void offersVhostDeviceTemplatesFeaturesAndEchoesAndCountsThroughTheBackEnd() throws Exception
    {
        served.drive(4L << 20, 1, b -> b.queues(1, 64), (_, _, session) ->
        {
            session.start();
            assertThat(session.offeredFeatures()).as("rust's verify_backend value").isEqualTo(0x1_7100_0000L);
            final FrontendQueue q = session.queue(0);

            final byte[] hello = "hello, template".getBytes(StandardCharsets.US_ASCII);
            final Answer echo = send(q, request(TemplateDevice.OP_ECHO, hello.length, hello), 64);
            assertThat(echo.status()).isEqualTo(TemplateDevice.STATUS_OK);
            assertThat(echo.usedLength()).isEqualTo(4 + hello.length);
            assertThat(echo.data()).isEqualTo(hello);

            final byte[] full = new byte[TemplateDevice.MAX_DATA];
            new java.util.Random(7).nextBytes(full);
            final Answer big = send(q, request(TemplateDevice.OP_ECHO, full.length, full), 4 + full.length, true);
            assertThat(big.status()).as("an indirect chain with the largest payload").isEqualTo(TemplateDevice.STATUS_OK);
            assertThat(big.data()).isEqualTo(full);

            final Answer count = send(q, request(TemplateDevice.OP_COUNT, 0, new byte[0]), 8);
            assertThat(count.status()).isEqualTo(TemplateDevice.STATUS_OK);
            assertThat(count.usedLength()).isEqualTo(8);
            assertThat(MemorySegment.ofArray(count.bytes()).get(LE32, 4)).as("third answered request").isEqualTo(3);
            session.stop();
        });
    }

    @Test
    void hostileRequestsAreRefusedWithAStatusAndTheNextIsServed() throws Exception
    {
        served.drive(8L << 20, 1, b -> b.queues(1, 64), (_, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(0);
            final byte[] four = {1, 2, 3, 4};

            Answer a = send(q, request(99, 0, new byte[0]), 16);
            assertThat(a.status()).as("unknown op").isEqualTo(TemplateDevice.STATUS_UNSUPPORTED);
            assertThat(a.usedLength()).isEqualTo(4);

            a = send(q, request(TemplateDevice.OP_ECHO, 5, four), 16);
            assertThat(a.status()).as("length beyond the chain").isEqualTo(TemplateDevice.STATUS_INVALID);

            a = send(q, request(TemplateDevice.OP_ECHO, 0xFFFF_FFFFL, four), 16);
            assertThat(a.status()).as("length 2^32-1").isEqualTo(TemplateDevice.STATUS_INVALID);

            final byte[] over = new byte[TemplateDevice.MAX_DATA + 1];
            a = send(q, request(TemplateDevice.OP_ECHO, over.length, over), 8192);
            assertThat(a.status()).as("length beyond MAX_DATA").isEqualTo(TemplateDevice.STATUS_INVALID);

            a = send(q, new byte[] {1, 0, 0}, 16);
            assertThat(a.status()).as("shorter than the header").isEqualTo(TemplateDevice.STATUS_INVALID);

            a = send(q, new byte[0], 16);
            assertThat(a.status()).as("no readable part at all").isEqualTo(TemplateDevice.STATUS_INVALID);

            a = send(q, request(TemplateDevice.OP_ECHO, 4, four), 6);
            assertThat(a.status()).as("echo that does not fit").isEqualTo(TemplateDevice.STATUS_INVALID);
            assertThat(a.usedLength()).isEqualTo(4);

            a = send(q, request(TemplateDevice.OP_COUNT, 0, new byte[0]), 7);
            assertThat(a.status()).as("count that does not fit").isEqualTo(TemplateDevice.STATUS_INVALID);

            a = send(q, request(TemplateDevice.OP_ECHO, 4, four), 3);
            assertThat(a.usedLength()).as("no room for a status: returned empty").isZero();
            assertThat(a.bytes()).containsOnly((byte)0xEE);

            a = send(q, request(TemplateDevice.OP_ECHO, 0, new byte[0]), 0);
            assertThat(a.usedLength()).as("no writable part at all").isZero();

            a = send(q, request(TemplateDevice.OP_ECHO, 4, four), 8);
            assertThat(a.status()).as("served on").isEqualTo(TemplateDevice.STATUS_OK);
            assertThat(a.data()).isEqualTo(four);
            assertThat(device.refusedRequests()).isEqualTo(10);
            session.stop();
        });
    }

    @Test
    void listensAgainForTheNextFrontEndWithTheCounterReset() throws Exception
    {
        for (final int vm : new int[] {0, 1})
        {
            served.drive(4L << 20, 1, b -> b.queues(1, 64), (_, _, session) ->
            {
                session.start();
                final FrontendQueue q = session.queue(0);
                for (int i = 1; i <= 2; i++)
                {
                    final Answer count = send(q, request(TemplateDevice.OP_COUNT, 0, new byte[0]), 8);
                    assertThat(MemorySegment.ofArray(count.bytes()).get(LE32, 4)).as("front-end %d", vm).isEqualTo(i);
                }
            });
        }
    }
}
