package io.jvhost.device.sound;

import java.lang.foreign.MemorySegment;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static io.jvhost.device.sound.SoundRig.LE32;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the sound device's four queues and its clock: control requests (a driver's stream request with values the
 * device takes, or a real code or any, then any fields), I/O
 * messages of any stream id and size on tx and rx, event buffers, time passing, and rings stopped (GET_VRING_BASE) and
 * restarted at the base the stop left. Every control request is answered
 * at once with one of the spec's statuses (or returned unused when it has no room for one), every I/O answer is a
 * status of the spec's (8 bytes, or frames and a status on rx), events are 8-byte XRUNs, no stream holds more than
 * its 64 messages, a stopped ring leaves nothing held (put back on the ring or answered), and the back-end never gets
 * more than the guest sent. QueueFuzzer checks that each request is answered at most once (a message put back at a
 * stop and taken again too) and that nothing outside the response buffers changes.
 */
class SoundRequestFuzzTest
{
    private static final QueueFuzzer[] QUEUES = {new QueueFuzzer(), new QueueFuzzer(), new QueueFuzzer(),
        new QueueFuzzer()};
    private static final int[] CODES = {Snd.R_JACK_INFO, Snd.R_JACK_REMAP, Snd.R_PCM_INFO, Snd.R_PCM_SET_PARAMS,
        Snd.R_PCM_PREPARE, Snd.R_PCM_RELEASE, Snd.R_PCM_START, Snd.R_PCM_STOP, Snd.R_CHMAP_INFO};

    private static long now;

    private static boolean isStatus(final int s)
    {
        return s == Snd.S_OK || s == Snd.S_BAD_MSG || s == Snd.S_NOT_SUPP || s == Snd.S_IO_ERR;
    }

    @FuzzTest(maxDuration = "30s")
    void statusesAreTheSpecsAndEveryRequestIsAnsweredOnce(final FuzzedDataProvider data)
    {
        for (int q = 0; q < 4; q++)
        {
            QUEUES[q].reset(q, 0);
        }
        now = 1_000_000_000L;
        final RecordingBackend backend = new RecordingBackend();
        final SoundDevice device = new SoundDevice("fuzz", backend, () -> now);
        device.featuresAcked(device.features());
        for (int q = 0; q < 4; q++)
        {
            device.queueStarted(q);
        }
        long sentPayload = 0;
        while (data.remainingBytes() > 0)
        {
            final int op = data.consumeInt(0, 5);
            if (op == 5)
            {
                final int q = data.consumeInt(0, 3);
                check(QUEUES[q], q, QUEUES[q].stop(device));
                for (int s = 0; s < SoundDevice.STREAMS; s++)
                {
                    if (q == (s == 0 ? Snd.TX_QUEUE : Snd.RX_QUEUE))
                    {
                        assertThat(device.held(s)).as("held by stream %d as its ring stops", s).isZero();
                    }
                }
                device.queueStopped(q);
                device.queueStarted(q);
                continue;
            }
            if (op == 4)
            {
                now += data.consumeLong(0, 200_000_000L);
                for (int q = Snd.TX_QUEUE; q <= Snd.RX_QUEUE; q++)
                {
                    check(QUEUES[q], q, QUEUES[q].serve(device));
                }
                continue;
            }
            final QueueFuzzer queue = QUEUES[op];
            final byte[] readable;
            if (op == Snd.CONTROL_QUEUE && data.consumeBoolean())
            {
                readable = wellFormed(data);
            }
            else if (op == Snd.CONTROL_QUEUE)
            {
                final byte[] rest = data.consumeBytes(data.consumeInt(0, 28));
                readable = new byte[4 + rest.length];
                final int code = data.consumeBoolean() ? CODES[data.consumeInt(0, CODES.length - 1)]
                    : data.consumeInt();
                MemorySegment.ofArray(readable).set(LE32, 0, code);
                System.arraycopy(rest, 0, readable, 4, rest.length);
            }
            else if (op == Snd.EVENT_QUEUE)
            {
                readable = new byte[0];
            }
            else
            {
                final byte[] payload = data.consumeBytes(data.consumeInt(0, 300));
                readable = new byte[4 + payload.length];
                MemorySegment.ofArray(readable).set(LE32, 0, data.consumeBoolean() ? data.consumeInt(0, 2)
                    : data.consumeInt());
                System.arraycopy(payload, 0, readable, 4, payload.length);
                if (op == Snd.TX_QUEUE)
                {
                    sentPayload += payload.length;
                }
            }
            final int head = queue.add(data, readable, op == Snd.RX_QUEUE ? 300 : 96);
            if (head < 0)
            {
                continue;
            }
            check(queue, op, queue.serve(device));
            if (op == Snd.CONTROL_QUEUE)
            {
                assertThat(queue.outstanding()).as("control requests left unanswered").isZero();
            }
            for (int s = 0; s < SoundDevice.STREAMS; s++)
            {
                assertThat(device.held(s)).as("held by stream %d", s).isLessThanOrEqualTo(SoundDevice.QUEUE_SIZE);
            }
        }
        assertThat((long)backend.played.size()).as("bytes played").isLessThanOrEqualTo(sentPayload);
        for (final QueueFuzzer queue : QUEUES)
        {
            queue.finish();
        }
    }

    /**
     * @return a stream request a driver would send (SET_PARAMS with values the device takes, PREPARE, RELEASE,
     *     START or STOP), so inputs reach streams that hold messages.
     */
    private static byte[] wellFormed(final FuzzedDataProvider data)
    {
        final int stream = data.consumeInt(0, 1);
        final int code = CODES[data.consumeInt(3, 7)];
        if (code != Snd.R_PCM_SET_PARAMS)
        {
            return SoundRig.pcm(code, stream);
        }
        final int period = 4 * data.consumeInt(1, 64);
        return SoundRig.setParams(stream, period * data.consumeInt(1, 8), period,
            data.consumeBoolean() ? 1 << Snd.PCM_F_EVT_XRUNS : 0, 2, Snd.FMT_S16, Snd.RATE_48000);
    }

    private static void check(final QueueFuzzer queue, final int q, final long[] used)
    {
        for (final long u : used)
        {
            final int head = (int)(u >>> 32);
            final long length = u & 0xFFFF_FFFFL;
            final byte[] got = queue.written(head, length);
            switch (q)
            {
                case Snd.CONTROL_QUEUE ->
                {
                    if (queue.writableBytes(head) < 4)
                    {
                        assertThat(length).as("no room for a status").isZero();
                    }
                    else if (length > 0)
                    {
                        assertThat(length).isGreaterThanOrEqualTo(4);
                        assertThat(isStatus(MemorySegment.ofArray(got).get(LE32, 0))).as("control status").isTrue();
                    }
                }
                case Snd.EVENT_QUEUE ->
                {
                    assertThat(length).isIn(0L, 8L);
                    if (length == 8)
                    {
                        assertThat(MemorySegment.ofArray(got).get(LE32, 0)).isEqualTo(Snd.EVT_PCM_XRUN);
                    }
                }
                default ->
                {
                    final long writable = queue.writableBytes(head);
                    if (writable < 8)
                    {
                        assertThat(length).as("no room for a status").isZero();
                    }
                    else if (length > 0)
                    {
                        assertThat(length).as("I/O answer").isIn(8L, writable);
                        final byte[] all = queue.written(head, writable);
                        assertThat(isStatus(MemorySegment.ofArray(all).get(LE32, writable - 8))).as("I/O status")
                            .isTrue();
                    }
                }
            }
        }
    }
}
