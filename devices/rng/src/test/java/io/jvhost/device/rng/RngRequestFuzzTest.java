package io.jvhost.device.rng;

import java.io.IOException;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the rng device with any mix of requests (readable buffers with any bytes, writable buffers of any size) and
 * an optional byte quota. Besides QueueFuzzer's checks (one used element per request, nothing written outside a
 * request's writable buffers): without a quota every request is answered in the same serve, a write-only request
 * with all its writable bytes and a request with a readable buffer with none; with a quota, the bytes served in the
 * period never exceed it and what is not served stays in the ring.
 */
class RngRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final EntropySource SOURCE = open();

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredOnceWithinTheQuota(final FuzzedDataProvider data)
    {
        QUEUE.reset(0, 0);
        final boolean limited = data.consumeBoolean();
        final long quota = limited ? data.consumeLong(0, 1 << 16) : Long.MAX_VALUE;
        final RngDevice rng = new RngDevice("fuzz", SOURCE, RngDevice.MAX_PERIOD_MS, quota);
        final boolean[] hasReadable = new boolean[QueueFuzzer.SIZE];
        long served = 0;
        while (data.remainingBytes() > 0)
        {
            final int requests = data.consumeInt(1, 8);
            for (int i = 0; i < requests; i++)
            {
                final byte[] readable = data.consumeBoolean() ? new byte[0] : data.consumeBytes(data.consumeInt(0, 64));
                final int head = QUEUE.add(data, readable, 4096);
                if (head >= 0)
                {
                    hasReadable[head] = readable.length > 0;
                }
            }
            for (final long u : QUEUE.serve(rng))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                if (hasReadable[head])
                {
                    assertThat(length).as("request %d with a readable buffer", head).isZero();
                }
                else if (!limited)
                {
                    assertThat(length).as("request %d", head).isEqualTo(QUEUE.writableBytes(head));
                }
                served += length;
            }
            assertThat(served).as("bytes served in the period").isLessThanOrEqualTo(quota);
            if (!limited)
            {
                assertThat(QUEUE.outstanding()).as("requests left unanswered").isZero();
            }
        }
        assertThat(rng.bytesServed()).isEqualTo(served);
        QUEUE.finish();
    }

    private static EntropySource open()
    {
        try
        {
            return EntropySource.open("/dev/urandom");
        }
        catch (final IOException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }
}
