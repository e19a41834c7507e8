package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the device model with any ioreq slots a hostile domU can make Xen write (any address, size, count, type,
 * direction, data_is_ptr and data; mostly register offsets of the window with plausible values), interleaved with
 * the back-end's used-buffer and config-change events. Checks: every READY slot is completed and nothing throws; a
 * refused request never reaches the device; the device starts only with queues whose rings are valid (power-of-two
 * size up to the maximum, each area aligned and inside guest RAM) and is notified only for started, ready queues;
 * the interrupt line is asserted exactly while InterruptStatus is non-zero.
 */
class IoreqFuzzTest
{
    private static final long BASE = 0x200_0000L;
    private static final long RAM = 0x4000_0000L;
    private static final long RAM_SIZE = 16L << 20;
    private static final int QUEUES = 2;
    private static final int MAX = 256;
    private static final int[] REGISTERS = {VirtioMmio.MAGIC_VALUE, VirtioMmio.VERSION_REG, VirtioMmio.DEVICE_ID,
        VirtioMmio.DEVICE_FEATURES, VirtioMmio.DEVICE_FEATURES_SEL, VirtioMmio.DRIVER_FEATURES,
        VirtioMmio.DRIVER_FEATURES_SEL, VirtioMmio.QUEUE_SEL, VirtioMmio.QUEUE_NUM_MAX, VirtioMmio.QUEUE_NUM,
        VirtioMmio.QUEUE_READY, VirtioMmio.QUEUE_NOTIFY, VirtioMmio.INTERRUPT_STATUS, VirtioMmio.INTERRUPT_ACK,
        VirtioMmio.STATUS, VirtioMmio.QUEUE_DESC_LOW, VirtioMmio.QUEUE_DESC_HIGH, VirtioMmio.QUEUE_DRIVER_LOW,
        VirtioMmio.QUEUE_DRIVER_HIGH, VirtioMmio.QUEUE_DEVICE_LOW, VirtioMmio.QUEUE_DEVICE_HIGH,
        VirtioMmio.CONFIG_GENERATION, VirtioMmio.CONFIG, VirtioMmio.CONFIG + 4};
    private static final MemorySegment PAGE = Arena.global().allocate(4096, 8);

    private static final class CheckingDevice implements VirtioMmio.Device
    {
        boolean started;
        VirtioMmio.Queue[] queues;

        @Override
        public long features()
        {
            return 1L << 32 | 1L << 29 | 0x3;
        }

        @Override
        public long readConfig(final int offset, final int size)
        {
            assertThat(offset).isBetween(0, VirtioMmio.WINDOW - VirtioMmio.CONFIG - size);
            return offset;
        }

        @Override
        public void writeConfig(final int offset, final int size, final long value)
        {
            assertThat(offset).isBetween(0, VirtioMmio.WINDOW - VirtioMmio.CONFIG - size);
        }

        @Override
        public void start(final long features, final VirtioMmio.Queue[] queues)
        {
            assertThat(started).as("started twice without a reset").isFalse();
            assertThat(features & ~features()).as("unoffered features").isZero();
            for (final VirtioMmio.Queue q : queues)
            {
                if (q.ready)
                {
                    assertThat(Integer.bitCount(q.num)).isEqualTo(1);
                    assertThat(q.num).isBetween(1, MAX);
                    inRam(q.desc, 16L * q.num, 16);
                    inRam(q.driver, 6 + 2L * q.num, 2);
                    inRam(q.device, 6 + 8L * q.num, 4);
                }
            }
            this.queues = queues;
            started = true;
        }

        private static void inRam(final long address, final long length, final int align)
        {
            assertThat(address % align).isZero();
            assertThat(address).isBetween(RAM, RAM + RAM_SIZE - length);
        }

        @Override
        public void notify(final int queue)
        {
            assertThat(started).as("notify before start").isTrue();
            assertThat(queues[queue].ready).as("notify of a queue that is not ready").isTrue();
        }

        @Override
        public void reset()
        {
            started = false;
        }
    }

    @FuzzTest(maxDuration = "30s")
    void everyRequestIsCompletedAndOnlyValidatedQueuesReachTheDevice(final FuzzedDataProvider data) throws Exception
    {
        final CheckingDevice device = new CheckingDevice();
        final boolean[] line = new boolean[1];
        final VirtioMmio mmio = new VirtioMmio(4, QUEUES, MAX, RAM, RAM_SIZE, device, level -> line[0] = level);
        final IoreqPage ioreq = new IoreqPage(PAGE, 2, BASE, mmio);
        PAGE.fill((byte)0);
        while (data.remainingBytes() > 0)
        {
            final int what = data.consumeInt(0, 15);
            if (what == 0)
            {
                mmio.usedBuffers();
            }
            else if (what == 1)
            {
                mmio.configChanged();
            }
            else
            {
                final int vcpu = data.consumeInt(0, 1);
                final long s = vcpu * 32L;
                final boolean plausible = data.consumeBoolean();
                final long addr = plausible ? BASE + REGISTERS[data.consumeInt(0, REGISTERS.length - 1)]
                    : data.consumeBoolean() ? BASE + data.consumeInt(-8, VirtioMmio.WINDOW + 8) : data.consumeLong();
                final long value = plausible && data.consumeBoolean() ? RAM + 0x1000L * data.consumeInt(0, 4096)
                    : data.consumeBoolean() ? data.consumeInt(0, 600) : data.consumeLong();
                final int flags = plausible ? IoreqPage.STATE_READY | (data.consumeBoolean() ? 0x20 : 0)
                    : IoreqPage.STATE_READY | data.consumeInt(0, 0xF) << 4;
                PAGE.set(ValueLayout.JAVA_LONG, s, addr);
                PAGE.set(ValueLayout.JAVA_LONG, s + 8, value);
                PAGE.set(ValueLayout.JAVA_INT, s + 16, plausible ? 1 : data.consumeInt(0, 3));
                PAGE.set(ValueLayout.JAVA_INT, s + 20, plausible ? 4 : data.consumeInt(0, 9));
                PAGE.set(ValueLayout.JAVA_BYTE, s + 31, (byte)(plausible ? IoreqPage.TYPE_COPY
                    : data.consumeInt(0, 9)));
                PAGE.set(ValueLayout.JAVA_BYTE, s + 30, (byte)flags);
                assertThat(ioreq.serve(vcpu)).isTrue();
                assertThat(PAGE.get(ValueLayout.JAVA_BYTE, s + 30) & 0xF).isEqualTo(IoreqPage.STATE_RESP_READY);
            }
            assertThat(line[0]).as("line asserted while InterruptStatus 0x%x", mmio.interruptStatus())
                .isEqualTo(mmio.interruptStatus() != 0);
            assertThat(mmio.started()).isEqualTo(device.started);
        }
    }
}
