package io.jvhost.device.can;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.DeviceQueue;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.can.wire.CanMessage;
import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A classic and a CAN FD frame sent by one device, carried by the virtual bus into the other's FIFO and written into
 * its RX buffers, allocate nothing in steady state (the TX path, the bus, the FIFO and the RX path, all on the
 * measured thread).
 */
class CanAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1L << CanDevice.F_CAN_CLASSIC
        | 1L << CanDevice.F_CAN_FD | 1L << CanDevice.F_RTR_FRAMES;

    @Test
    void steadyStateFramesAllocateNothing() throws Exception
    {
        try (SteadyStateRing tx = new SteadyStateRing(CanDevice.TX_QUEUE);
             SteadyStateRing rx = new SteadyStateRing(CanDevice.RX_QUEUE);
             SteadyStateRing control = new SteadyStateRing(CanDevice.CONTROL_QUEUE))
        {
            final VirtualCanBus bus = new VirtualCanBus("alloc");
            final CanDevice a = new CanDevice("can0", bus.join());
            final CanDevice b = new CanDevice("can1", bus.join());
            a.featuresAcked(FEATURES);
            b.featuresAcked(FEATURES);
            control.ram.set(LE16, 0x20000, (short)CanDevice.CTRL_START);
            final long[][] start = {{0x20000, 0x30000}};
            final int[][] startLengths = {{2, 1}};
            control.round(a, start, startLengths, new int[] {1});
            control.round(b, start, startLengths, new int[] {1});
            assertThat(a.started() && b.started()).isTrue();

            tx.ram.set(LE16, 0x20000, (short)CanDevice.MSG_TX);
            tx.ram.set(LE16, 0x20002, (short)8);
            tx.ram.set(LE32, 0x2000C, 0x123);
            tx.ram.set(LE16, 0x20100, (short)CanDevice.MSG_TX);
            tx.ram.set(LE16, 0x20102, (short)64);
            tx.ram.set(LE32, 0x20108, CanFrame.FLAG_FD | CanFrame.FLAG_EXTENDED);
            tx.ram.set(LE32, 0x2010C, 0x1ABCDEF);
            final long[][] frames = {{0x20000, 0x30000}, {0x20100, 0x30100}};
            final int[][] frameLengths = {{CanMessage.HEADER_SIZE + 8, 1}, {CanMessage.MAX_SIZE, 1}};
            final long[][] buffers = {{0x20000}, {0x20100}};
            final int[][] bufferLengths = {{CanMessage.MAX_SIZE}, {CanMessage.MAX_SIZE}};
            final int[] writableOnly = {0, 0};

            // A transmits on its TX ring; each round B's RX ring then takes both frames.
            final VirtioDevice sendThenReceive = new VirtioDevice()
            {
                @Override
                public int deviceType()
                {
                    return CanDevice.DEVICE_TYPE;
                }

                @Override
                public String name()
                {
                    return "can pair";
                }

                @Override
                public int queueCount()
                {
                    return 3;
                }

                @Override
                public int maxQueueSize()
                {
                    return CanDevice.QUEUE_SIZE;
                }

                @Override
                public long features()
                {
                    return FEATURES;
                }

                @Override
                public void processQueue(final DeviceQueue queue)
                {
                    a.processQueue(queue);
                    rx.round(b, buffers, bufferLengths, writableOnly);
                }
            };
            final long allocated = tx.allocatedBy(sendThenReceive, frames, frameLengths, new int[] {1, 1}, ITERATIONS);
            assertThat(a.refusedRequests() + b.refusedRequests()).isZero();
            assertThat(b.delivered()).as("both frames of every round delivered").isEqualTo(6L * ITERATIONS);
            assertThat(rx.ram.get(LE32, 0x2010C)).as("the FD frame's id in B's buffer").isEqualTo(0x1ABCDEF);
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }
}
