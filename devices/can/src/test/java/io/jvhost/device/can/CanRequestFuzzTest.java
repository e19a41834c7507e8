package io.jvhost.device.can;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.can.wire.CanMessage;
import io.jvhost.device.fuzz.QueueFuzzer;
import io.jvhost.virtqueue.VirtioFeatures;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes a can device's Txq and Controlq with any messages (a TX header with fuzzed type, flags, length and identifier,
 * or any bytes; START, STOP or any control type; cut into any buffers), with fuzzed features negotiated, while a second
 * device on the same virtual bus receives into fuzzer-sized RX buffers. Besides QueueFuzzer's checks: every request is
 * answered in the same serve with one result byte (nothing without a writable byte); a transmission is OK exactly when
 * an independent reading of the spec says the frame is valid and the controller started; every OK frame, and only
 * those, reaches the other device, which writes them into its RX buffers unchanged and in order, returning buffers
 * too small or with a readable part empty.
 */
class CanRequestFuzzTest
{
    private static final QueueFuzzer TX = new QueueFuzzer();
    private static final QueueFuzzer CONTROL = new QueueFuzzer();
    private static final QueueFuzzer RX = new QueueFuzzer();
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] FLAGS = {0, CanFrame.FLAG_EXTENDED, CanFrame.FLAG_FD, CanFrame.FLAG_RTR,
        CanFrame.FLAG_FD | CanFrame.FLAG_EXTENDED, CanFrame.FLAG_RTR | CanFrame.FLAG_EXTENDED};
    private static final long ALL = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1L << CanDevice.F_CAN_CLASSIC
        | 1L << CanDevice.F_CAN_FD | 1L << CanDevice.F_RTR_FRAMES;

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsAnsweredAndExactlyTheValidFramesCrossTheBus(final FuzzedDataProvider data)
    {
        TX.reset(CanDevice.TX_QUEUE, 0);
        CONTROL.reset(CanDevice.CONTROL_QUEUE, 0);
        RX.reset(CanDevice.RX_QUEUE, 0);
        final VirtualCanBus bus = new VirtualCanBus("fuzz");
        final CanDevice a = new CanDevice("a", bus.join());
        final CanDevice b = new CanDevice("b", bus.join());
        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | (data.consumeBoolean() ? 1L << CanDevice.F_CAN_CLASSIC : 0)
            | (data.consumeBoolean() ? 1L << CanDevice.F_CAN_FD : 0)
            | (data.consumeBoolean() ? 1L << CanDevice.F_RTR_FRAMES : 0);
        a.featuresAcked(features);
        b.featuresAcked(ALL);
        start(b);
        final ArrayDeque<byte[]> expected = new ArrayDeque<>();
        final byte[][] sent = new byte[QueueFuzzer.SIZE][];
        boolean started = false;
        while (data.remainingBytes() > 0)
        {
            final int what = data.consumeInt(0, 2);
            if (what == 0)
            {
                final int requests = data.consumeInt(1, 8);
                for (int i = 0; i < requests; i++)
                {
                    final byte[] m = message(data);
                    final int head = TX.add(data, m, 4);
                    if (head >= 0)
                    {
                        sent[head] = m;
                    }
                }
                for (final long u : TX.serve(a))
                {
                    final int head = (int)(u >>> 32);
                    final long length = u & 0xFFFF_FFFFL;
                    if (TX.writableBytes(head) < 1)
                    {
                        assertThat(length).as("TX %d without a writable byte", head).isZero();
                        continue;
                    }
                    assertThat(length).as("TX %d answered with one result byte", head).isEqualTo(1);
                    final int result = TX.written(head, 1)[0];
                    final boolean valid = started && valid(sent[head], features);
                    assertThat(result).as("result of %s (features 0x%x, started %s)", Arrays.toString(sent[head]),
                        features, started).isEqualTo(valid ? CanDevice.RESULT_OK : CanDevice.RESULT_NOT_OK);
                    if (valid && expected.size() < CanDevice.FIFO_FRAMES)
                    {
                        // B's FIFO takes it (a full one drops it, counted as an overrun).
                        expected.add(rxImage(sent[head]));
                    }
                }
                assertThat(TX.outstanding()).isZero();
            }
            else if (what == 1)
            {
                final int type = data.consumeBoolean()
                    ? (data.consumeBoolean() ? CanDevice.CTRL_START : CanDevice.CTRL_STOP) : data.consumeInt(0, 0xFFFF);
                final byte[] m = data.consumeBoolean() ? new byte[] {(byte)type, (byte)(type >> 8)}
                    : data.consumeBytes(data.consumeInt(0, 3));
                final int head = CONTROL.add(data, m, 2);
                if (head < 0)
                {
                    continue;
                }
                for (final long u : CONTROL.serve(a))
                {
                    final long length = u & 0xFFFF_FFFFL;
                    if (CONTROL.writableBytes(head) < 1)
                    {
                        assertThat(length).isZero();
                        continue;
                    }
                    assertThat(length).isEqualTo(1);
                    final int t = m.length >= 2 ? (m[0] & 0xFF) | (m[1] & 0xFF) << 8 : -1;
                    final boolean known = t == CanDevice.CTRL_START || t == CanDevice.CTRL_STOP;
                    assertThat(CONTROL.written(head, 1)[0]).as("control 0x%x", t)
                        .isEqualTo((byte)(known ? CanDevice.RESULT_OK : CanDevice.RESULT_NOT_OK));
                    if (known)
                    {
                        started = t == CanDevice.CTRL_START;
                    }
                }
                assertThat(a.started()).isEqualTo(started);
            }
            else
            {
                final int buffers = data.consumeInt(1, 4);
                for (int i = 0; i < buffers; i++)
                {
                    RX.add(data, data.consumeBoolean() ? new byte[0] : data.consumeBytes(data.consumeInt(0, 4)),
                        CanMessage.MAX_SIZE + 8);
                }
                for (final long u : RX.serve(b))
                {
                    final int head = (int)(u >>> 32);
                    final long length = u & 0xFFFF_FFFFL;
                    if (length == 0)
                    {
                        continue;
                    }
                    final byte[] want = expected.remove();
                    assertThat(RX.written(head, length)).as("frame %d in the RX buffer", head).isEqualTo(want);
                }
            }
            assertThat(b.pending()).as("frames waiting in B").isEqualTo(expected.size());
        }
        TX.finish();
        CONTROL.finish();
        RX.finish();
    }

    private static void start(final CanDevice device)
    {
        CONTROL.reset(CanDevice.CONTROL_QUEUE, 0);
        CONTROL.add(new byte[] {1, 2}, 1);
        assertThat(CONTROL.serve(device)).hasSize(1);
        CONTROL.reset(CanDevice.CONTROL_QUEUE, 0);
        assertThat(device.started()).isTrue();
    }

    private static byte[] message(final FuzzedDataProvider data)
    {
        if (data.consumeBoolean())
        {
            return data.consumeBytes(data.consumeInt(0, CanMessage.MAX_SIZE + 4));
        }
        final int flags = data.consumeBoolean() ? FLAGS[data.consumeInt(0, FLAGS.length - 1)] : data.consumeInt();
        final int lengthKind = data.consumeInt(0, 2);
        final int length = data.consumeInt(0, lengthKind == 0 ? 8 : lengthKind == 1 ? 65 : 0xFFFF);
        final int id = data.consumeBoolean() ? data.consumeInt(0, 0x7FF) : data.consumeInt();
        final int type = data.consumeBoolean() ? CanDevice.MSG_TX : data.consumeInt(0, 0xFFFF);
        final byte[] payload = data.consumeBytes(data.consumeBoolean() ? Math.min(length, 64) : data.consumeInt(0, 80));
        final byte[] m = new byte[CanMessage.HEADER_SIZE + payload.length];
        final MemorySegment s = MemorySegment.ofArray(m);
        s.set(LE16, 0, (short)type);
        s.set(LE16, 2, (short)length);
        s.set(LE32, 8, flags);
        s.set(LE32, 12, id);
        System.arraycopy(payload, 0, m, CanMessage.HEADER_SIZE, payload.length);
        return m;
    }

    /**
     * The spec's rules for a transmission, read independently of the device.
     */
    private static boolean valid(final byte[] m, final long features)
    {
        if (m.length < CanMessage.HEADER_SIZE)
        {
            return false;
        }
        final MemorySegment s = MemorySegment.ofArray(m);
        final int type = s.get(LE16, 0) & 0xFFFF;
        final int length = s.get(LE16, 2) & 0xFFFF;
        final int flags = s.get(LE32, 8);
        final long id = s.get(LE32, 12) & 0xFFFF_FFFFL;
        final boolean fd = (flags & 0x4000) != 0;
        final boolean rtr = (flags & 0x2000) != 0;
        final boolean ext = (flags & 0x8000) != 0;
        final boolean classicOk = (features & 1) != 0;
        final boolean fdOk = (features & 2) != 0;
        final boolean rtrOk = (features & 4) != 0;
        final boolean lengthOk = fd
            ? Arrays.asList(0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64).contains(length) : length <= 8;
        return type == 1 && (flags & ~0xE000) == 0 && (fd ? fdOk : classicOk) && (!rtr || rtrOk && !fd) && lengthOk
            && (rtr || m.length >= CanMessage.HEADER_SIZE + length) && id <= (ext ? 0x1FFF_FFFFL : 0x7FFL);
    }

    /**
     * @return what the receiver's RX buffer holds for a valid TX message.
     */
    private static byte[] rxImage(final byte[] m)
    {
        final MemorySegment s = MemorySegment.ofArray(m);
        final int length = s.get(LE16, 2) & 0xFFFF;
        final int flags = s.get(LE32, 8);
        final byte[] rx = new byte[CanMessage.HEADER_SIZE + length];
        final MemorySegment r = MemorySegment.ofArray(rx);
        r.set(LE16, 0, (short)CanDevice.MSG_RX);
        r.set(LE16, 2, (short)length);
        r.set(LE32, 8, flags);
        r.set(LE32, 12, s.get(LE32, 12));
        if ((flags & CanFrame.FLAG_RTR) == 0)
        {
            System.arraycopy(m, CanMessage.HEADER_SIZE, rx, CanMessage.HEADER_SIZE, length);
        }
        return rx;
    }
}
