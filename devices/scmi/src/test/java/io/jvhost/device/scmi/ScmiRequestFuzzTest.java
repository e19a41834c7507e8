package io.jvhost.device.scmi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the scmi command queue with any commands (BASE and SENSOR messages or any other protocol and message, any
 * sensor and index parameters, any length, cut into any buffers, any room for the response) against a fake
 * accelerometer and a fake thermometer. Besides QueueFuzzer's checks: every command is answered in the same serve,
 * with nothing (fewer than 8 writable bytes) or a response that fits its room, echoes the command's header and carries
 * a status SCMI defines (0 to -10), an error being header and status only.
 */
class ScmiRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @FuzzTest(maxDuration = "30s")
    void everyCommandIsAnsweredOnceWithADefinedStatus(final FuzzedDataProvider data)
    {
        QUEUE.reset(ScmiDevice.COMMAND_QUEUE, 0);
        final ScmiDevice scmi = new ScmiDevice("fuzz", List.of(new FakeSensor("a", FakeSensor.Kind.ACCELEROMETER),
            new FakeSensor("t", FakeSensor.Kind.THERMOMETER)));
        scmi.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        final int[] headerOf = new int[QueueFuzzer.SIZE];
        final boolean[] hasHeader = new boolean[QueueFuzzer.SIZE];
        while (data.remainingBytes() > 0)
        {
            final int commands = data.consumeInt(1, 8);
            for (int i = 0; i < commands; i++)
            {
                final byte[] command = data.consumeBytes(data.consumeInt(0, 20));
                final MemorySegment c = MemorySegment.ofArray(command);
                if (command.length >= 4 && data.consumeBoolean())
                {
                    final int protocol = data.consumeBoolean() ? ScmiPlatform.SENSOR : ScmiPlatform.BASE;
                    c.set(LE32, 0, data.consumeInt(0, 0xC) | protocol << 10 | data.consumeInt(0, 0x3FF) << 18);
                }
                if (command.length >= 8 && data.consumeBoolean())
                {
                    c.set(LE32, 4, data.consumeInt(0, 3));
                }
                final int head = QUEUE.add(data, command, 160);
                if (head >= 0)
                {
                    hasHeader[head] = command.length >= 4;
                    headerOf[head] = command.length >= 4 ? c.get(LE32, 0) : 0;
                }
            }
            for (final long u : QUEUE.serve(scmi))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                final long room = QUEUE.writableBytes(head);
                if (room < 8)
                {
                    assertThat(length).as("command %d without room for header and status", head).isZero();
                    continue;
                }
                assertThat(length).as("command %d", head).isBetween(8L, room);
                final MemorySegment response = MemorySegment.ofArray(QUEUE.written(head, length));
                if (hasHeader[head])
                {
                    assertThat(response.get(LE32, 0)).as("header of command %d", head).isEqualTo(headerOf[head]);
                }
                final int status = response.get(LE32, 4);
                assertThat(status).as("status of command %d", head).isBetween(-10, 0);
                if (status != ScmiPlatform.SUCCESS)
                {
                    assertThat(length).as("an error is header and status only").isEqualTo(8);
                }
            }
            assertThat(QUEUE.outstanding()).as("commands left unanswered").isZero();
        }
        QUEUE.finish();
    }
}
