package io.jvhost.xen;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.xen.VirtioMmio.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The virtio-mmio v2 registers driven as Linux's virtio_mmio driver drives them, through a fake IOREQ page (the
 * slots Xen fills), against a recording device; and a hostile guest's accesses.
 */
class VirtioMmioTest
{
    private static final long BASE = 0x200_0000L;
    private static final long RAM = 0x4000_0000L;
    private static final long RAM_SIZE = 256L << 20;

    private final List<String> events = new ArrayList<>();
    private final List<Boolean> irq = new ArrayList<>();
    private VirtioMmio mmio;
    private MemorySegment page;
    private IoreqPage ioreq;

    private final VirtioMmio.Device device = new VirtioMmio.Device()
    {
        @Override
        public long features()
        {
            return 1L << 32 | 1L << 29 | 1L << 28 | 0x5;
        }

        @Override
        public long readConfig(final int offset, final int size)
        {
            events.add("config " + offset + "/" + size);
            return 0xA0L + offset;
        }

        @Override
        public void writeConfig(final int offset, final int size, final long value)
        {
            events.add("config write " + offset + "/" + size + "=" + value);
        }

        @Override
        public void start(final long features, final Queue[] queues)
        {
            final Queue q = queues[0];
            events.add("start 0x" + Long.toHexString(features) + " q0 " + q.num + " 0x" + Long.toHexString(q.desc)
                + " 0x" + Long.toHexString(q.driver) + " 0x" + Long.toHexString(q.device));
        }

        @Override
        public void notify(final int queue)
        {
            events.add("notify " + queue);
        }

        @Override
        public void reset()
        {
            events.add("reset");
        }
    };

    @BeforeEach
    void setUp() throws Exception
    {
        mmio = new VirtioMmio(4, 1, 256, RAM, RAM_SIZE, device, irq::add);
        page = Arena.ofAuto().allocate(4096, 8);
        ioreq = new IoreqPage(page, 2, BASE, mmio);
    }

    /** Plays Xen: fills vCPU {@code vcpu}'s slot with a READY MMIO access, lets the server answer it. */
    private long access(final int vcpu, final boolean read, final long offset, final int size, final long value)
    {
        final long s = vcpu * 32L;
        page.set(ValueLayout.JAVA_LONG, s, BASE + offset);
        page.set(ValueLayout.JAVA_LONG, s + 8, read ? 0 : value);
        page.set(ValueLayout.JAVA_INT, s + 16, 1);
        page.set(ValueLayout.JAVA_INT, s + 20, size);
        page.set(ValueLayout.JAVA_BYTE, s + 31, (byte)IoreqPage.TYPE_COPY);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)(IoreqPage.STATE_READY | (read ? 0x20 : 0)));
        assertThat(ioreq.serve(vcpu)).as("a READY slot is answered").isTrue();
        assertThat(page.get(ValueLayout.JAVA_BYTE, s + 30) & 0xF).isEqualTo(IoreqPage.STATE_RESP_READY);
        return page.get(ValueLayout.JAVA_LONG, s + 8);
    }

    private long r(final int offset)
    {
        return access(0, true, offset, 4, 0);
    }

    private void w(final int offset, final long value)
    {
        access(1, false, offset, 4, value);
    }

    /** Linux's virtio_mmio probe, feature negotiation and vm_setup_vq for queue 0, then DRIVER_OK. */
    private void driverBringsUpQueue0()
    {
        assertThat(r(MAGIC_VALUE)).isEqualTo(0x7472_6976L);
        assertThat(r(VERSION_REG)).isEqualTo(2);
        assertThat(r(DEVICE_ID)).isEqualTo(4);
        w(STATUS, 0);
        w(STATUS, STATUS_ACKNOWLEDGE);
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        w(DEVICE_FEATURES_SEL, 1);
        assertThat(r(DEVICE_FEATURES)).isEqualTo(1);
        w(DEVICE_FEATURES_SEL, 0);
        assertThat(r(DEVICE_FEATURES)).isEqualTo(0x3000_0005L);
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 1);
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, 0x2000_0000L);
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assertThat(r(STATUS) & STATUS_FEATURES_OK).isEqualTo(STATUS_FEATURES_OK);
        w(QUEUE_SEL, 0);
        assertThat(r(QUEUE_READY)).isZero();
        assertThat(r(QUEUE_NUM_MAX)).isEqualTo(256);
        w(QUEUE_NUM, 256);
        w(QUEUE_DESC_LOW, 0x4100_0000L);
        w(QUEUE_DESC_HIGH, 0);
        w(QUEUE_DRIVER_LOW, 0x4100_1000L);
        w(QUEUE_DRIVER_HIGH, 0);
        w(QUEUE_DEVICE_LOW, 0x4100_2000L);
        w(QUEUE_DEVICE_HIGH, 0);
        w(QUEUE_READY, 1);
        assertThat(r(QUEUE_READY)).isEqualTo(1);
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    }

    @Test
    void linuxDriverSequenceStartsTheDeviceWithTheGuestsRingsAndFeatures()
    {
        driverBringsUpQueue0();
        assertThat(events).containsExactly("reset", "start 0x120000000 q0 256 0x41000000 0x41001000 0x41002000");
        assertThat(mmio.started()).isTrue();
        assertThat(mmio.ignoredAccesses()).as(mmio.lastError()).isZero();
        assertThat(ioreq.served()).as("every access of the sequence").isEqualTo(29);
    }

    @Test
    void queueNotifyKicksAndUsedBuffersRaiseTheInterruptUntilAcknowledged()
    {
        driverBringsUpQueue0();
        w(QUEUE_NOTIFY, 0);
        assertThat(events).endsWith("notify 0");
        mmio.usedBuffers();
        assertThat(irq).containsExactly(true);
        assertThat(r(INTERRUPT_STATUS)).isEqualTo(INT_VRING);
        w(INTERRUPT_ACK, INT_VRING);
        assertThat(r(INTERRUPT_STATUS)).isZero();
        assertThat(irq).containsExactly(true, false);
    }

    @Test
    void configSpaceReadsGoToTheDeviceAtTheirOffsetAndSize()
    {
        assertThat(access(0, true, CONFIG + 2, 2, 0)).isEqualTo(0xA2);
        assertThat(access(0, true, CONFIG + 8, 1, 0)).isEqualTo(0xA8);
        access(1, false, CONFIG + 4, 4, 0x1234);
        assertThat(events).containsExactly("config 2/2", "config 8/1", "config write 4/4=4660");
    }

    @Test
    void statusZeroResetsEverythingAndLowersTheInterrupt()
    {
        driverBringsUpQueue0();
        mmio.usedBuffers();
        w(STATUS, 0);
        assertThat(events).endsWith("reset");
        assertThat(r(STATUS)).isZero();
        assertThat(r(QUEUE_READY)).isZero();
        assertThat(irq).containsExactly(true, false);
        assertThat(mmio.started()).isFalse();
        assertThat(mmio.queue(0).desc).isZero();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // A hostile guest

    private void upToFeaturesOk()
    {
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        w(QUEUE_SEL, 0);
    }

    private void assertQueueRefused(final String reason)
    {
        final long before = mmio.ignoredAccesses();
        w(QUEUE_READY, 1);
        assertThat(r(QUEUE_READY)).isZero();
        assertThat(mmio.ignoredAccesses()).isEqualTo(before + 1);
        assertThat(mmio.lastError()).contains(reason);
    }

    private void rings(final int num, final long desc, final long driver, final long dev)
    {
        w(QUEUE_NUM, num);
        w(QUEUE_DESC_LOW, desc & 0xFFFF_FFFFL);
        w(QUEUE_DESC_HIGH, desc >>> 32);
        w(QUEUE_DRIVER_LOW, driver & 0xFFFF_FFFFL);
        w(QUEUE_DRIVER_HIGH, driver >>> 32);
        w(QUEUE_DEVICE_LOW, dev & 0xFFFF_FFFFL);
        w(QUEUE_DEVICE_HIGH, dev >>> 32);
    }

    @Test
    void queueSizesThatAreNotAPowerOfTwoUpToTheMaximumAreRefused()
    {
        upToFeaturesOk();
        for (final int num : new int[] {0, 3, 512, -1, 0x8000_0000})
        {
            rings(num, 0x4100_0000L, 0x4100_1000L, 0x4100_2000L);
            assertQueueRefused("QueueNum " + num);
        }
    }

    @Test
    void ringsOutsideGuestRamOrMisalignedAreRefused()
    {
        upToFeaturesOk();
        rings(16, 0x3FFF_F000L, 0x4100_1000L, 0x4100_2000L);
        assertQueueRefused("descriptor table 0x3ffff000+256 is outside guest RAM");
        rings(16, 0x4100_0000L, RAM + RAM_SIZE - 4, 0x4100_2000L);
        assertQueueRefused("driver area");
        rings(16, 0x4100_0000L, 0x4100_1000L, 0xFFFF_FFFF_FFFF_FF00L);
        assertQueueRefused("device area 0xffffffffffffff00+134 is outside guest RAM");
        rings(16, 0x4100_0008L, 0x4100_1000L, 0x4100_2000L);
        assertQueueRefused("not 16-byte aligned");
        rings(16, 0x4100_0000L, 0x4100_1000L, 0x4100_2002L);
        assertQueueRefused("not 4-byte aligned");
        rings(16, 0x4100_0000L, 0x4100_1000L, RAM + RAM_SIZE - 136);
        w(QUEUE_READY, 1);
        assertThat(r(QUEUE_READY)).as("134 bytes of used ring in the last 136 bytes of RAM: " + mmio.lastError())
            .isEqualTo(1);
    }

    @Test
    void queueRegistersOfAReadyQueueAndOutOfRangeQueuesCannotChange()
    {
        driverBringsUpQueue0();
        w(QUEUE_DESC_LOW, 0x4200_0000L);
        assertThat(mmio.queue(0).desc).isEqualTo(0x4100_0000L);
        w(QUEUE_SEL, 5);
        assertThat(r(QUEUE_NUM_MAX)).isZero();
        w(QUEUE_NUM, 16);
        w(QUEUE_READY, 1);
        w(QUEUE_NOTIFY, 5);
        w(QUEUE_NOTIFY, -1);
        assertThat(events).noneMatch(e -> e.startsWith("notify"));
        assertThat(mmio.ignoredAccesses()).isEqualTo(5);
    }

    @Test
    void featuresNotOfferedKeepFeaturesOkClearAndDriverOkWithoutItNeedsReset()
    {
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 0x3); // bit 33 is not offered
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assertThat(r(STATUS) & STATUS_FEATURES_OK).isZero();
        assertThat(mmio.lastError()).contains("0x200000000 not offered");
        w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        assertThat(r(STATUS) & STATUS_NEEDS_RESET).isEqualTo(STATUS_NEEDS_RESET);
        assertThat(events).noneMatch(e -> e.startsWith("start"));
    }

    @Test
    void badSizesOffsetsAndNonMmioRequestsAreAnsweredWithoutTheDevice()
    {
        final long s = 0;
        // a 2-byte read of a 4-byte register, an unaligned one, one past the window
        assertThat(access(0, true, DEVICE_ID, 2, 0)).isZero();
        assertThat(access(0, true, 0x1, 4, 0)).isZero();
        assertThat(mmio.ignoredAccesses()).isEqualTo(2);
        // past the window, a PIO request, a count of 2, data_is_ptr: completed with all ones, device untouched
        page.set(ValueLayout.JAVA_LONG, s, BASE + VirtioMmio.WINDOW);
        page.set(ValueLayout.JAVA_INT, s + 16, 1);
        page.set(ValueLayout.JAVA_INT, s + 20, 4);
        page.set(ValueLayout.JAVA_BYTE, s + 31, (byte)IoreqPage.TYPE_COPY);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)(IoreqPage.STATE_READY | 0x20));
        assertThat(ioreq.serve(0)).isTrue();
        assertThat(page.get(ValueLayout.JAVA_LONG, s + 8)).isEqualTo(-1L);
        page.set(ValueLayout.JAVA_LONG, s, BASE);
        page.set(ValueLayout.JAVA_BYTE, s + 31, (byte)0);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)(IoreqPage.STATE_READY | 0x20));
        assertThat(ioreq.serve(0)).isTrue();
        page.set(ValueLayout.JAVA_BYTE, s + 31, (byte)IoreqPage.TYPE_COPY);
        page.set(ValueLayout.JAVA_INT, s + 16, 2);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)(IoreqPage.STATE_READY | 0x20));
        assertThat(ioreq.serve(0)).isTrue();
        page.set(ValueLayout.JAVA_INT, s + 16, 1);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)(IoreqPage.STATE_READY | 0x10));
        assertThat(ioreq.serve(0)).isTrue();
        assertThat(ioreq.refused()).isEqualTo(4);
        assertThat(ioreq.lastRefusal()).isEqualTo("vCPU 0: type 1, write of 4 bytes x1 (data_is_ptr) at 0x2000000");
        assertThat(events).isEmpty();
        // Xen's map-cache invalidation broadcast is completed, not refused
        page.set(ValueLayout.JAVA_BYTE, s + 31, (byte)IoreqPage.TYPE_INVALIDATE);
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)IoreqPage.STATE_READY);
        assertThat(ioreq.serve(0)).isTrue();
        assertThat(page.get(ValueLayout.JAVA_BYTE, s + 30) & 0xF).isEqualTo(IoreqPage.STATE_RESP_READY);
        assertThat(ioreq.invalidations()).isEqualTo(1);
        assertThat(ioreq.refused()).isEqualTo(4);
        // a slot that is not READY is left alone; a vCPU outside the page is no request
        page.set(ValueLayout.JAVA_BYTE, s + 30, (byte)IoreqPage.STATE_INPROCESS);
        assertThat(ioreq.serve(0)).isFalse();
        assertThat(ioreq.serve(2)).isFalse();
        assertThat(ioreq.serve(-1)).isFalse();
    }
}
