package io.jvhost.device.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.device.fuzz.QueueFuzzer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SpiDevice} with a controller that fails its transfers (as a spidev does with EMSGSIZE or EIO): the result is
 * TRANS_ERR, rx comes back zeroed whatever the controller left in it, and the controller saw the checked parameters.
 */
class SpiDeviceTest
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A controller that records each transfer, scribbles over rx and fails. */
    private static final class FailingController implements SpiController
    {
        final List<String> seen = new ArrayList<>();

        @Override
        public SpiConfig config()
        {
            return new SpiConfig(1, true, SpiConfig.NBITS_QUAD, 0, 0, 0xF, 0, 0, 0, 65_535_000, 0);
        }

        @Override
        public boolean transfer(final SpiTransfer t)
        {
            seen.add("cs" + t.chipSelect() + " " + t.bitsPerWord() + "b mode " + t.mode() + " " + t.freq() + " Hz tx"
                + t.txNbits() + " hold " + t.csDelayHoldNs() + " len " + t.length() + (t.hasTx() ? " tx" : "")
                + (t.hasRx() ? " rx" : "") + " first 0x" + Integer.toHexString(t.tx().get(ValueLayout.JAVA_BYTE, 0)));
            SpiTransfer.fill(t.rx(), t.length(), (byte)0x77);
            return false;
        }

        @Override
        public String describe()
        {
            return "failing";
        }
    }

    @Test
    void aFailedTransferIsTransErrWithRxZeroed()
    {
        final QueueFuzzer queue = new QueueFuzzer();
        queue.reset(0, 0);
        final FailingController controller = new FailingController();
        final SpiDevice device = new SpiDevice("spi", controller);
        final byte[] request = new byte[TransferHead.SIZE + 4];
        final MemorySegment h = MemorySegment.ofArray(request);
        h.set(ValueLayout.JAVA_BYTE, 1, (byte)24);
        h.set(ValueLayout.JAVA_BYTE, 3, (byte)4);
        h.set(LE32, 8, 3);
        h.set(LE32, 12, 123_456_789);
        h.set(LE32, 24, 1500);
        request[TransferHead.SIZE] = 0x42;
        final int head = queue.add(request, 5);
        final long[] used = queue.serve(device);
        assertThat(used).hasSize(1);
        assertThat((int)(used[0] >>> 32)).isEqualTo(head);
        assertThat(queue.written(head, used[0] & 0xFFFF_FFFFL)).as("rx zeroed, then TRANS_ERR")
            .containsExactly(0, 0, 0, 0, SpiDevice.TRANS_ERR);
        assertThat(controller.seen).containsExactly("cs0 24b mode 3 123456789 Hz tx4 hold 1500 len 4 tx rx first 0x42");
        assertThat(device.failedTransfers()).isEqualTo(1);
        assertThat(device.refusedRequests()).isZero();
    }
}
