package io.jvhost.device.gpio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the gpio request queue with any requests (a real type or any other, lines in range or not, any value, any
 * length, cut into any buffers) against an 8-line simulated chip, interrupts negotiated. Besides QueueFuzzer's checks:
 * every request is answered in the same serve, with nothing (no writable byte) or a status 0 or 1 first, and the
 * chip's state stays within virtio's values.
 */
class GpioRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredOnceWithAStatus(final FuzzedDataProvider data)
    {
        QUEUE.reset(GpioDevice.REQUEST_QUEUE, 0);
        final SimulatedGpioChip chip = new SimulatedGpioChip(8);
        final GpioDevice gpio = new GpioDevice("fuzz", chip);
        gpio.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
        while (data.remainingBytes() > 0)
        {
            final int requests = data.consumeInt(1, 8);
            for (int i = 0; i < requests; i++)
            {
                final byte[] request = data.consumeBytes(data.consumeInt(0, 16));
                if (request.length >= 8 && data.consumeBoolean())
                {
                    MemorySegment.ofArray(request).set(LE16, 0, (short)data.consumeInt(1, 6));
                    MemorySegment.ofArray(request).set(LE16, 2, (short)data.consumeInt(0, 9));
                    MemorySegment.ofArray(request).set(LE32, 4, data.consumeInt(0, 9));
                }
                QUEUE.add(data, request, 64);
            }
            if (data.consumeBoolean())
            {
                chip.drive(data.consumeInt(0, 7), data.consumeInt(0, 1));
            }
            for (final long u : QUEUE.serve(gpio))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                if (QUEUE.writableBytes(head) == 0)
                {
                    assertThat(length).as("request %d without a writable byte", head).isZero();
                    continue;
                }
                assertThat(length).as("request %d", head).isPositive();
                assertThat(QUEUE.written(head, length)[0] & 0xFF).as("status of request %d", head).isIn(0, 1);
            }
            assertThat(QUEUE.outstanding()).as("requests left unanswered").isZero();
            for (int line = 0; line < 8; line++)
            {
                assertThat(chip.direction(line)).isBetween(0, 2);
                assertThat(chip.output(line)).isBetween(0, 1);
                assertThat(chip.irqType(line)).isIn(0, 1, 2, 3, 4, 8);
            }
        }
        QUEUE.finish();
    }
}
