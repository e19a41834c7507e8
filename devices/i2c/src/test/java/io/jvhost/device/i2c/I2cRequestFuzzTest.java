package io.jvhost.device.i2c;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the i2c request queue with any messages (headers aimed at the simulated EEPROM and LM75 or anywhere, any
 * flags, FAIL_NEXT chains of any length, any data, cut into any buffers). Besides QueueFuzzer's checks: every request
 * is answered in the same serve; one with writable bytes gets its status in its last written byte, 0 or 1, and a read
 * that succeeded exactly its data and status.
 */
class I2cRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @FuzzTest(maxDuration = "30s")
    void everyMessageIsAnsweredOnceWithAStatus(final FuzzedDataProvider data) throws IOException
    {
        QUEUE.reset(0, 0);
        try (I2cBus bus = DeviceList.open(DeviceList.parse("sim:0x50=eeprom:0x48=lm75")))
        {
            final I2cDevice i2c = new I2cDevice("fuzz", bus);
            while (data.remainingBytes() > 0)
            {
                final int requests = data.consumeInt(1, 6);
                for (int i = 0; i < requests; i++)
                {
                    final byte[] request = data.consumeBytes(data.consumeInt(0, 24));
                    if (request.length >= 8 && data.consumeBoolean())
                    {
                        final int[] addresses = {0x50, 0x48, data.consumeInt(0, 0x7F)};
                        MemorySegment.ofArray(request).set(LE16, 0,
                            (short)(addresses[data.consumeInt(0, 2)] << 1));
                        MemorySegment.ofArray(request).set(LE32, 4, data.consumeInt(0, 3));
                    }
                    QUEUE.add(data, request, 24);
                }
                for (final long u : QUEUE.serve(i2c))
                {
                    final int head = (int)(u >>> 32);
                    final long length = u & 0xFFFF_FFFFL;
                    if (QUEUE.writableBytes(head) == 0)
                    {
                        assertThat(length).as("request %d without a status byte", head).isZero();
                        continue;
                    }
                    assertThat(length).as("request %d", head).isPositive();
                    final byte[] written = QUEUE.written(head, length);
                    assertThat(written[written.length - 1] & 0xFF).as("status of request %d", head).isIn(0, 1);
                }
                assertThat(QUEUE.outstanding()).as("requests left unanswered").isZero();
            }
        }
        QUEUE.finish();
    }
}
