package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;

import io.jvhost.memory.xen.XenSyscalls;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The per-request path of a started device allocates nothing: an ioreq for QueueNotify, the back-end's call turned
 * into the SPI (the XEN_DMOP_set_irq_level buffer, through a privcmd that answers 0), the driver's InterruptStatus
 * read and InterruptACK write.
 */
class SteadyStateAllocationTest
{
    private static final long BASE = 0x200_0000L;
    private static final int CYCLES = 10_000;

    private static final XenSyscalls QUIET_PRIVCMD = new XenSyscalls()
    {
        @Override
        public long mmapShared(final long fixedAddress, final long length, final int fd, final long offset)
        {
            return -1;
        }

        @Override
        public long reserve(final long fixedAddress, final long length)
        {
            return -1;
        }

        @Override
        public int munmap(final long address, final long length)
        {
            return 0;
        }

        @Override
        public int ioctl(final int fd, final long request, final MemorySegment arg)
        {
            return 0;
        }
    };

    private long notified;
    private long raised;

    private final VirtioMmio.Device device = new VirtioMmio.Device()
    {
        @Override
        public long features()
        {
            return 1L << 32;
        }

        @Override
        public long readConfig(final int offset, final int size)
        {
            return 0;
        }

        @Override
        public void writeConfig(final int offset, final int size, final long value)
        {
        }

        @Override
        public void start(final long features, final VirtioMmio.Queue[] queues)
        {
        }

        @Override
        public void notify(final int queue)
        {
            notified++;
        }

        @Override
        public void reset()
        {
        }
    };

    private static void access(final MemorySegment page, final IoreqPage ioreq, final boolean read,
        final int offset, final long value)
    {
        page.set(ValueLayout.JAVA_LONG, 0, BASE + offset);
        page.set(ValueLayout.JAVA_LONG, 8, value);
        page.set(ValueLayout.JAVA_INT, 16, 1);
        page.set(ValueLayout.JAVA_INT, 20, 4);
        page.set(ValueLayout.JAVA_BYTE, 31, (byte)IoreqPage.TYPE_COPY);
        page.set(ValueLayout.JAVA_BYTE, 30, (byte)(IoreqPage.STATE_READY | (read ? 0x20 : 0)));
        if (!ioreq.serve(0))
        {
            throw new AssertionError("not served");
        }
    }

    private long cycle(final MemorySegment page, final IoreqPage ioreq, final VirtioMmio mmio)
    {
        long status = 0;
        for (int i = 0; i < CYCLES; i++)
        {
            access(page, ioreq, false, VirtioMmio.QUEUE_NOTIFY, 0);
            mmio.usedBuffers();
            access(page, ioreq, true, VirtioMmio.INTERRUPT_STATUS, 0);
            status += page.get(ValueLayout.JAVA_LONG, 8);
            access(page, ioreq, false, VirtioMmio.INTERRUPT_ACK, VirtioMmio.INT_VRING);
        }
        return status;
    }

    @Test
    void notifyInterruptAndAcknowledgeAllocateNothing() throws Exception
    {
        final DeviceModelOps dm = new DeviceModelOps(QUIET_PRIVCMD, -1, 1);
        final VirtioMmio mmio = new VirtioMmio(4, 1, 256, 0x4000_0000L, 256L << 20, device, level ->
        {
            raised += dm.setIrqLevel(33, level) == 0 && level ? 1 : 0;
        });
        final MemorySegment page = Arena.ofAuto().allocate(4096, 8);
        final IoreqPage ioreq = new IoreqPage(page, 1, BASE, mmio);
        final int[][] bringUp = {{VirtioMmio.STATUS, 3}, {VirtioMmio.DRIVER_FEATURES_SEL, 1},
            {VirtioMmio.DRIVER_FEATURES, 1}, {VirtioMmio.STATUS, 11}, {VirtioMmio.QUEUE_NUM, 64},
            {VirtioMmio.QUEUE_DESC_LOW, 0x4100_0000}, {VirtioMmio.QUEUE_DRIVER_LOW, 0x4100_1000},
            {VirtioMmio.QUEUE_DEVICE_LOW, 0x4100_2000}, {VirtioMmio.QUEUE_READY, 1}, {VirtioMmio.STATUS, 15}};
        for (final int[] w : bringUp)
        {
            access(page, ioreq, false, w[0], w[1] & 0xFFFF_FFFFL);
        }
        assertThat(mmio.started()).as(mmio.lastError()).isTrue();

        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        long sink = 0;
        for (int i = 0; i < 3; i++)
        {
            sink += cycle(page, ioreq, mmio);
        }
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            sink += cycle(page, ioreq, mmio);
            least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
        }
        assertThat(sink).as("InterruptStatus read as VRING every time").isEqualTo(6L * CYCLES);
        assertThat(notified).isEqualTo(6L * CYCLES);
        assertThat(raised).isEqualTo(6L * CYCLES);
        assertThat(mmio.ignoredAccesses()).as(mmio.lastError()).isZero();
        assertThat(least).as("bytes allocated by %d notify/interrupt/ack cycles", CYCLES).isLessThan(1024);
    }
}
