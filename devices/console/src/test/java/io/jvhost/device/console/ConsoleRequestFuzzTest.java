package io.jvhost.device.console;

import java.io.ByteArrayOutputStream;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the console device's four queues with multiport on: any bytes as control messages from the guest, transmit
 * buffers of any bytes, receive buffers of any size, host input and a host side that comes and goes. The guest's
 * output reaches the host exactly and in order (when the host side is connected and takes everything), the host's
 * input reaches the guest exactly and in order, transmit and control-transmit requests are answered once with 0
 * bytes, and every control message to the guest is a whole 8-byte header or more. QueueFuzzer checks that nothing
 * outside the response buffers changes.
 */
class ConsoleRequestFuzzTest
{
    private static final QueueFuzzer[] QUEUES = {new QueueFuzzer(), new QueueFuzzer(), new QueueFuzzer(),
        new QueueFuzzer()};

    @FuzzTest(maxDuration = "30s")
    void bytesPassExactlyAndEveryRequestIsAnsweredOnce(final FuzzedDataProvider data)
    {
        for (int q = 0; q < 4; q++)
        {
            QUEUES[q].reset(q, 0);
        }
        final FakeBackend backend = new FakeBackend();
        final byte[] hostInput = data.consumeBytes(data.consumeInt(0, 256));
        backend.input(hostInput);
        final ConsoleDevice console = new ConsoleDevice("fuzz", backend, ConsoleDevice.DEFAULT_QUEUE_SIZE);
        console.featuresAcked(console.features());
        for (int q = 0; q < 4; q++)
        {
            console.queueStarted(q);
        }
        final ByteArrayOutputStream sent = new ByteArrayOutputStream();
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        boolean everDisconnected = false;
        while (data.remainingBytes() > 0)
        {
            final int q = data.consumeInt(0, 4);
            if (q == 4)
            {
                backend.connected = data.consumeBoolean();
                everDisconnected |= !backend.connected;
                continue;
            }
            final QueueFuzzer queue = QUEUES[q];
            final boolean guestSends = q == ConsoleDevice.TX || q == ConsoleDevice.CONTROL_TX;
            final byte[] readable = guestSends ? data.consumeBytes(data.consumeInt(0, 64)) : new byte[0];
            final int head = queue.add(data, readable, guestSends ? 8 : 64);
            if (head >= 0 && q == ConsoleDevice.TX)
            {
                sent.writeBytes(readable);
            }
            for (final long u : queue.serve(console))
            {
                final int h = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                switch (q)
                {
                    case ConsoleDevice.RX -> received.writeBytes(queue.written(h, length));
                    case ConsoleDevice.CONTROL_RX -> assertThat(length).as("control message to the guest")
                        .matches(n -> n == 0 || n >= 8);
                    default -> assertThat(length).as("answer to a request of queue %d", q).isZero();
                }
            }
            if (q == ConsoleDevice.CONTROL_TX)
            {
                assertThat(queue.outstanding()).as("control messages left unanswered").isZero();
            }
        }
        final byte[] out = backend.output();
        final byte[] guestOutput = sent.toByteArray();
        assertThat(out.length + backend.discardedBytes()).as("bytes the host got or dropped")
            .isLessThanOrEqualTo(guestOutput.length);
        if (!everDisconnected)
        {
            assertThat(isPrefix(out, guestOutput)).as("the host got the guest's output in order").isTrue();
        }
        assertThat(isPrefix(received.toByteArray(), hostInput)).as("the guest got the host's input in order")
            .isTrue();
        for (final QueueFuzzer queue : QUEUES)
        {
            queue.finish();
        }
    }

    private static boolean isPrefix(final byte[] prefix, final byte[] of)
    {
        return prefix.length <= of.length && java.util.Arrays.equals(prefix, 0, prefix.length, of, 0, prefix.length);
    }
}
