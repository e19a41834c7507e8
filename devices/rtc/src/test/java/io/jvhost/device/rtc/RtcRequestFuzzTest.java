package io.jvhost.device.rtc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.os.NativeException;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the rtc request queue with any requests (a real message type or any other, any clock id, any length, cut
 * into any buffers) against the host's three clocks, with or without the alarm negotiated. Besides QueueFuzzer's
 * checks: every request is answered in the same serve, with nothing (fewer than 8 writable bytes) or a response
 * whose status is one virtio-rtc defines, of exactly its type's size when OK.
 */
class RtcRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final List<RtcClock> CLOCKS = clocks();
    private static final int[] TYPES = {RtcDevice.REQ_READ, RtcDevice.REQ_READ_CROSS, RtcDevice.REQ_CFG,
        RtcDevice.REQ_CLOCK_CAP, RtcDevice.REQ_CROSS_CAP, RtcDevice.REQ_READ_ALARM, RtcDevice.REQ_SET_ALARM,
        RtcDevice.REQ_SET_ALARM_ENABLED};

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredOnceWithADefinedStatus(final FuzzedDataProvider data)
    {
        QUEUE.reset(RtcDevice.REQUEST_QUEUE, 0);
        final RtcDevice rtc = new RtcDevice("fuzz", CLOCKS, true);
        final boolean alarm = data.consumeBoolean();
        rtc.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | (alarm ? 1 : 0));
        final int[] typeOf = new int[QueueFuzzer.SIZE];
        final ValueLayout.OfShort le16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        while (data.remainingBytes() > 0)
        {
            final int requests = data.consumeInt(1, 8);
            for (int i = 0; i < requests; i++)
            {
                final byte[] request = data.consumeBytes(data.consumeInt(0, 32));
                final int type = data.consumeBoolean() ? TYPES[data.consumeInt(0, TYPES.length - 1)]
                    : data.consumeInt(0, 0xFFFF);
                if (request.length >= 2)
                {
                    MemorySegment.ofArray(request).set(le16, 0, (short)type);
                }
                if (request.length >= 10 && data.consumeBoolean())
                {
                    MemorySegment.ofArray(request).set(le16, 8, (short)data.consumeInt(0, 4));
                }
                final int head = QUEUE.add(data, request, 32);
                if (head >= 0)
                {
                    typeOf[head] = request.length >= 2 ? type : -1;
                }
            }
            for (final long u : QUEUE.serve(rtc))
            {
                final int head = (int)(u >>> 32);
                final long length = u & 0xFFFF_FFFFL;
                if (QUEUE.writableBytes(head) < 8)
                {
                    assertThat(length).as("request %d without room for the head", head).isZero();
                    continue;
                }
                final byte[] response = QUEUE.written(head, length);
                assertThat(length).as("request %d", head).isIn(8L, 16L, 24L);
                final int status = response[0] & 0xFF;
                assertThat(status).as("status of request %d", head).isIn(RtcDevice.S_OK, RtcDevice.S_EOPNOTSUPP,
                    RtcDevice.S_ENODEV, RtcDevice.S_EINVAL, RtcDevice.S_EIO);
                if (status == RtcDevice.S_OK)
                {
                    assertThat(length).as("OK response size of type 0x%x", typeOf[head])
                        .isEqualTo(okSize(typeOf[head]));
                }
            }
            assertThat(QUEUE.outstanding()).as("requests left unanswered").isZero();
        }
        QUEUE.finish();
    }

    private static long okSize(final int type)
    {
        return switch (type)
        {
            case RtcDevice.REQ_READ_CROSS, RtcDevice.REQ_READ_ALARM -> 24;
            case RtcDevice.REQ_SET_ALARM, RtcDevice.REQ_SET_ALARM_ENABLED -> 8;
            default -> 16;
        };
    }

    private static List<RtcClock> clocks()
    {
        try
        {
            return List.of(RtcClock.utc(), RtcClock.tai(), RtcClock.monotonic());
        }
        catch (final NativeException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }
}
