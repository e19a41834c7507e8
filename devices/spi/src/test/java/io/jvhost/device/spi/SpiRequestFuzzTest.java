package io.jvhost.device.spi;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.jvhost.device.fuzz.QueueFuzzer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the spi request queue with any requests (heads aimed at the simulated loopback and EEPROM with the usual
 * word size and clock, or anything; any tx bytes; rx buffers of the matching length or any, cut into any buffers).
 * Besides QueueFuzzer's checks: every request is answered in the same serve; one with writable bytes gets exactly its
 * writable bytes, the result in the last, TRANS_OK or PARAM_ERR (the simulation never fails a transfer), and a
 * full-duplex transfer that succeeded on the loopback (or in LOOP mode) received exactly what it sent.
 */
class SpiRequestFuzzTest
{
    private static final QueueFuzzer QUEUE = new QueueFuzzer();
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final byte[][] SENT = new byte[QueueFuzzer.SIZE][];

    @FuzzTest(maxDuration = "30s")
    void everyTransferIsAnsweredOnceWithAResult(final FuzzedDataProvider data) throws IOException
    {
        QUEUE.reset(0, 0);
        try (SpiController controller = ControllerSpec.open("sim:loopback:eeprom"))
        {
            final SpiDevice spi = new SpiDevice("fuzz", controller);
            while (data.remainingBytes() > 0)
            {
                final int requests = data.consumeInt(1, 4);
                for (int i = 0; i < requests; i++)
                {
                    final byte[] request = data.consumeBytes(data.consumeInt(0, 48));
                    if (request.length >= TransferHead.SIZE && data.consumeBoolean())
                    {
                        final MemorySegment h = MemorySegment.ofArray(request);
                        h.set(ValueLayout.JAVA_BYTE, 0, (byte)data.consumeInt(0, 2));
                        h.set(ValueLayout.JAVA_BYTE, 1, (byte)(data.consumeBoolean() ? 8 : 16));
                        h.set(ValueLayout.JAVA_BYTE, 2, (byte)0);
                        h.set(ValueLayout.JAVA_BYTE, 3, (byte)data.consumeInt(0, 1));
                        h.set(ValueLayout.JAVA_BYTE, 4, (byte)data.consumeInt(0, 1));
                        h.set(LE32, 8, data.consumeInt(0, 0x1F));
                        h.set(LE32, 12, 1_000_000);
                        for (int at = 16; at < 32; at += 4)
                        {
                            h.set(LE32, at, 0);
                        }
                    }
                    final int txLength = Math.max(0, request.length - TransferHead.SIZE);
                    final int head = data.consumeBoolean() ? QUEUE.add(request, txLength + 1)
                        : QUEUE.add(data, request, 24);
                    if (head >= 0)
                    {
                        SENT[head] = request;
                    }
                }
                for (final long u : QUEUE.serve(spi))
                {
                    final int head = (int)(u >>> 32);
                    final long length = u & 0xFFFF_FFFFL;
                    final long writable = QUEUE.writableBytes(head);
                    if (writable == 0)
                    {
                        assertThat(length).as("request %d without a result byte", head).isZero();
                        continue;
                    }
                    assertThat(length).as("request %d: rx and result", head).isEqualTo(writable);
                    final byte[] written = QUEUE.written(head, length);
                    final int result = written[written.length - 1] & 0xFF;
                    assertThat(result).as("result of request %d", head).isIn(SpiDevice.TRANS_OK, SpiDevice.PARAM_ERR);
                    final byte[] sent = SENT[head];
                    final int txLength = sent.length - TransferHead.SIZE;
                    if (result == SpiDevice.TRANS_OK && txLength > 0 && writable > 1)
                    {
                        assertThat(writable - 1).as("full duplex: tx and rx equally long").isEqualTo(txLength);
                        final MemorySegment h = MemorySegment.ofArray(sent);
                        if (sent[0] == 0 || (h.get(LE32, 8) & TransferHead.MODE_LOOP) != 0)
                        {
                            assertThat(Arrays.copyOf(written, txLength)).as("looped back")
                                .isEqualTo(Arrays.copyOfRange(sent, TransferHead.SIZE, sent.length));
                        }
                    }
                }
                assertThat(QUEUE.outstanding()).as("requests left unanswered").isZero();
            }
        }
        QUEUE.finish();
    }
}
