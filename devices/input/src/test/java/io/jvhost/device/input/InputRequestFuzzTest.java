package io.jvhost.device.input;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the input device's two queues and its config space. Status requests (any readable bytes, any writable
 * buffers) are each answered once with 0 bytes, and the listener gets exactly one event per whole 8 bytes, decoded
 * as written. Event buffers of any size get the host's events in order, 8 bytes each (a buffer under 8 bytes comes
 * back empty); what the guest has not taken stays pending or is counted dropped, never lost silently. Config reads of
 * any select/subsel show a size byte of at most 128. QueueFuzzer checks nothing outside the response buffers changes.
 */
class InputRequestFuzzTest
{
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final QueueFuzzer EVENTS = new QueueFuzzer();
    private static final QueueFuzzer STATUS = new QueueFuzzer();

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredOnceAndEveryEventAccountedFor(final FuzzedDataProvider data)
    {
        EVENTS.reset(InputDevice.EVENT_QUEUE, 0);
        STATUS.reset(InputDevice.STATUS_QUEUE, 0);
        final ArrayDeque<Long> heard = new ArrayDeque<>();
        final InputDevice input = new InputDevice("fuzz", VirtualProfile.COMBINED.capabilities(), 16,
            (type, code, value) -> heard.add(pack(type, code, value)));
        final ArrayDeque<Long> offered = new ArrayDeque<>();
        long offers = 0;
        final byte[] config = new byte[InputDevice.CONFIG_SIZE];
        long taken = 0;
        while (data.remainingBytes() > 0)
        {
            switch (data.consumeInt(0, 3))
            {
                case 0 ->
                {
                    final int type = data.consumeInt(0, InputCodes.EV_MAX);
                    final int code = data.consumeInt(0, 0xFFFF);
                    final int value = data.consumeInt();
                    input.event(type, code, value);
                    offered.add(pack(type, code, value));
                    offers++;
                }
                case 1 ->
                {
                    EVENTS.add(data, new byte[0], data.consumeInt(0, 24));
                    for (final long u : EVENTS.serve(input))
                    {
                        final int head = (int)(u >>> 32);
                        final long length = u & 0xFFFF_FFFFL;
                        if (EVENTS.writableBytes(head) < InputDevice.EVENT_SIZE)
                        {
                            assertThat(length).as("event buffer under 8 bytes").isZero();
                            continue;
                        }
                        assertThat(length).isEqualTo(InputDevice.EVENT_SIZE);
                        final long event = MemorySegment.ofArray(EVENTS.written(head, length)).get(LE64, 0);
                        taken++;
                        // The ring keeps the newest: older offered events may have been dropped, never reordered.
                        Long next;
                        while ((next = offered.poll()) != null && next != event)
                        {
                            // Dropped (the ring overflowed) before the guest took this one.
                        }
                        assertThat(next).as("event 0x%x delivered in order", event).isNotNull();
                    }
                }
                case 2 ->
                {
                    final byte[] status = data.consumeBytes(data.consumeInt(0, 40));
                    final int head = STATUS.add(data, status, 16);
                    final long[] used = STATUS.serve(input);
                    if (head >= 0)
                    {
                        assertThat(used).hasSize(1);
                        assertThat(used[0] & 0xFFFF_FFFFL).as("status answered with bytes").isZero();
                        final MemorySegment s = MemorySegment.ofArray(status);
                        for (int at = 0; at + 8 <= status.length; at += 8)
                        {
                            assertThat(heard.poll()).as("status event at %d", at).isEqualTo(pack(
                                s.get(LE16, at) & 0xFFFF, s.get(LE16, at + 2) & 0xFFFF, s.get(LE32, at + 4)));
                        }
                    }
                    assertThat(heard).as("status events not in any request").isEmpty();
                    assertThat(STATUS.outstanding()).isZero();
                }
                default ->
                {
                    final byte[] sel = data.consumeBytes(2);
                    input.writeConfig(data.consumeInt(0, 1), MemorySegment.ofArray(sel));
                    input.readConfig(0, MemorySegment.ofArray(config));
                    assertThat(config[2] & 0xFF).as("config size").isLessThanOrEqualTo(128);
                }
            }
        }
        assertThat(input.deliveredEvents()).isEqualTo(taken);
        assertThat(input.deliveredEvents() + input.droppedEvents() + input.pendingEvents())
            .as("delivered + dropped + pending").isEqualTo(offers);
        EVENTS.finish();
        STATUS.finish();
    }

    private static long pack(final int type, final int code, final int value)
    {
        return (type & 0xFFFFL) | (code & 0xFFFFL) << 16 | (value & 0xFFFF_FFFFL) << 32;
    }
}
