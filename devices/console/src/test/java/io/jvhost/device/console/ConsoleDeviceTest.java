package io.jvhost.device.console;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import io.jvhost.device.ActiveQueue;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ConsoleDevice} on mock rings (the driver side is {@link DriverQueue} in a plain memory segment), against an
 * in-memory host side.
 */
class ConsoleDeviceTest
{
    private static final int SIZE = 64;
    private static final long DATA = 0x100000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private MemorySegment ram;
    private final DriverQueue[] driver = new DriverQueue[4];
    private final ActiveQueue[] queue = new ActiveQueue[4];
    private FakeBackend backend;
    private ConsoleDevice device;

    @BeforeEach
    void setUp() throws Exception
    {
        ram = arena.allocate(16 << 20, 4096);
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x7000_0000L)), 8);
        for (int q = 0; q < 4; q++)
        {
            driver[q] = new DriverQueue(ram, 0, SIZE, 0x1000 + q * 0x4000L);
            final SplitQueue ring = new SplitQueue(ConsoleDevice.DEFAULT_QUEUE_SIZE);
            ring.setSize(SIZE);
            ring.setGuestPhysAddresses(driver[q].descGpa(), driver[q].availGpa(), driver[q].usedGpa());
            ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            ring.bind(memory);
            queue[q] = new ActiveQueue(q, "console q" + q, ring, SIZE);
        }
        backend = new FakeBackend();
        device = new ConsoleDevice("console0", backend, ConsoleDevice.DEFAULT_QUEUE_SIZE);
        device.featuresAcked(device.features());
        for (int q = 0; q < 4; q++)
        {
            device.queueStarted(q);
        }
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private void serve(final int q)
    {
        queue[q].serve(device);
    }

    private static int usedLength(final long used)
    {
        return (int)(used & 0xFFFF_FFFFL);
    }

    private static int usedHead(final long used)
    {
        return (int)(used >>> 32);
    }

    @Test
    void offersVhostDeviceConsolesFeaturesQueuesAndConfig()
    {
        assertThat(device.deviceType()).isEqualTo(3);
        assertThat(device.queueCount()).isEqualTo(4);
        assertThat(device.maxQueueSize()).isEqualTo(128);
        assertThat(device.features()).isEqualTo(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.NOTIFY_ON_EMPTY) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | 1L << ConsoleDevice.F_MULTIPORT);
        assertThat(device.configSize()).isEqualTo(12);
        final MemorySegment config = MemorySegment.ofArray(new byte[12]);
        device.readConfig(0, config);
        assertThat(config.get(LE16, 0)).as("cols").isEqualTo((short)80);
        assertThat(config.get(LE16, 2)).as("rows").isEqualTo((short)24);
        assertThat(config.get(LE32, 4)).as("max_nr_ports").isEqualTo(1);
        assertThat(config.get(LE32, 8)).as("emerg_wr").isZero();
        final MemorySegment tail = MemorySegment.ofArray(new byte[4]);
        device.readConfig(8, tail);
        assertThat(tail.toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
    }

    /**
     * Output is written from host addresses: a transmit buffer in a Xen grant region mapped per access (which has no
     * host address of its own) is dropped like one outside guest memory, never read from a made-up address.
     */
    @Test
    void transmitBufferInAXenGrantRegionMappedPerAccessIsDropped() throws Exception
    {
        final long grant = 1L << 63 | 0x40L << 12;
        try (io.jvhost.memory.xen.FakeXen xen = new io.jvhost.memory.xen.FakeXen(3, 4 * 4096))
        {
            xen.grant(0x40, io.jvhost.memory.xen.FakeXen.RAM_GPA);
            xen.ram().fill((byte)'x');
            final int gntdev = xen.openGntdev();
            final MemoryRegion region;
            try
            {
                region = MemoryRegion.mapXen(xen, gntdev, grant, 4096, 0, 0, 0xa, 3);
            }
            finally
            {
                io.jvhost.os.LibC.closeQuietly(gntdev);
            }
            final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x7000_0000L), region), 8);
            try
            {
                final SplitQueue ring = new SplitQueue(ConsoleDevice.DEFAULT_QUEUE_SIZE);
                ring.setSize(SIZE);
                ring.setGuestPhysAddresses(driver[1].descGpa(), driver[1].availGpa(), driver[1].usedGpa());
                ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
                ring.bind(memory);
                queue[1] = new ActiveQueue(1, "console q1", ring, SIZE);
                MemorySegment.copy("ok".getBytes(StandardCharsets.US_ASCII), 0, ram, ValueLayout.JAVA_BYTE, DATA, 2);
                driver[1].add(new long[] {grant + 16}, new int[] {16}, 1, 0);
                driver[1].add(new long[] {DATA}, new int[] {2}, 1, 0);
                driver[1].publish();
                serve(1);
                assertThat(usedLength(driver[1].pollUsed())).isZero();
                assertThat(usedLength(driver[1].pollUsed())).isZero();
                assertThat(new String(backend.output(), StandardCharsets.US_ASCII)).as("only the buffer in RAM")
                    .isEqualTo("ok");
                assertThat(xen.grantMmaps()).as("no grant mapped for output").isZero();
            }
            finally
            {
                memory.release();
            }
        }
    }

    @Test
    void configReadsOutsideTheTwelveBytesAreRefused()
    {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> device.readConfig(9, MemorySegment.ofArray(new byte[4])))
            .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("offset 9");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> device.readConfig(-1, MemorySegment.ofArray(new byte[1])))
            .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void hostBytesArriveExactlyAcrossManyGuestBuffersEachUsedOnceWithItsLength()
    {
        final byte[] sent = new byte[256 * 1024];
        new Random(1).nextBytes(sent);
        backend.input(sent);
        final Random sizes = new Random(2);
        final byte[] got = new byte[sent.length];
        int received = 0;
        final long[][] buffers = new long[SIZE][];
        final int[][] lengths = new int[SIZE][];
        int rounds = 0;
        while (received < sent.length)
        {
            assertThat(rounds++).as("rounds").isLessThan(100_000);
            // Two buffers per chain, of odd sizes, as virtio allows (Linux posts one page each).
            final int a = 1 + sizes.nextInt(700);
            final int b = 1 + sizes.nextInt(700);
            final long gpa = DATA + (rounds % SIZE) * 0x1000L;
            final int head = driver[0].add(new long[] {gpa, gpa + 0x800}, new int[] {a, b}, 0, 2);
            buffers[head] = new long[] {gpa, gpa + 0x800};
            lengths[head] = new int[] {a, b};
            driver[0].publish();
            serve(0);
            long used;
            while ((used = driver[0].pollUsed()) != -1)
            {
                final int h = usedHead(used);
                int n = usedLength(used);
                assertThat(n).as("used length").isPositive().isLessThanOrEqualTo(lengths[h][0] + lengths[h][1]);
                for (int i = 0; i < 2 && n > 0; i++)
                {
                    final int part = Math.min(n, lengths[h][i]);
                    MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, buffers[h][i], got, received, part);
                    received += part;
                    n -= part;
                }
            }
        }
        assertThat(got).isEqualTo(sent);
        assertThat(device.bytesToGuest()).isEqualTo(sent.length);
    }

    @Test
    void hostInputIsReadOnlyIntoAWaitingGuestBuffer()
    {
        backend.input("typed before the guest was ready".getBytes(StandardCharsets.US_ASCII));
        serve(0);
        assertThat(backend.reads).as("no buffer, nothing read").isZero();
        assertThat(backend.wantInput).as("no interest in input without a buffer").isFalse();

        driver[0].add(new long[] {DATA}, new int[] {10}, 0, 1);
        driver[0].publish();
        serve(0);
        assertThat(usedLength(driver[0].pollUsed())).isEqualTo(10);
        assertThat(backend.wantInput).as("the rest waits until another buffer comes").isFalse();
        assertThat(backend.inputPos).isEqualTo(10);

        driver[0].add(new long[] {DATA}, new int[] {100}, 0, 1);
        driver[0].publish();
        serve(0);
        assertThat(usedLength(driver[0].pollUsed())).isEqualTo(backend.input.length - 10);
        assertThat(backend.wantInput).as("a buffer waits for input now").isTrue();
    }

    @Test
    void guestBytesReachTheHostExactlyAndEachBufferIsHeldUntilTheHostTookAllOfIt()
    {
        final byte[] sent = new byte[256 * 1024];
        new Random(3).nextBytes(sent);
        ram.asSlice(DATA, sent.length).copyFrom(MemorySegment.ofArray(sent));
        final Random sizes = new Random(4);
        int offered = 0;
        int completed = 0;
        int chains = 0;
        backend.room = 0;
        while (completed < chains || offered < sent.length)
        {
            if (offered < sent.length && driver[1].freeDescriptors() >= 3)
            {
                final int a = Math.min(sent.length - offered, 1 + sizes.nextInt(3000));
                final int b = Math.min(sent.length - offered - a, sizes.nextInt(3000));
                driver[1].add(new long[] {DATA + offered, DATA + offered + a}, new int[] {a, b}, b > 0 ? 2 : 1, 0);
                offered += a + b;
                chains++;
                driver[1].publish();
            }
            final int before = backend.outputSize;
            serve(1);
            long used;
            while ((used = driver[1].pollUsed()) != -1)
            {
                assertThat(usedLength(used)).as("nothing written into a transmit buffer").isZero();
                completed++;
            }
            // A slow reader: a little room at a time.
            if (backend.room == 0)
            {
                backend.room = 1 + sizes.nextInt(5000);
            }
            assertThat(backend.outputSize - before).isLessThanOrEqualTo(5000);
        }
        assertThat(backend.output()).isEqualTo(sent);
        assertThat(device.bytesFromGuest()).isEqualTo(sent.length);
    }

    @Test
    void aTransmitBufferTheHostCannotTakeStaysWithTheDevice()
    {
        ram.asSlice(DATA, 5).copyFrom(MemorySegment.ofArray("hello".getBytes(StandardCharsets.US_ASCII)));
        driver[1].add(new long[] {DATA}, new int[] {5}, 1, 0);
        driver[1].publish();
        backend.room = 2;
        serve(1);
        assertThat(driver[1].pollUsed()).as("held while the host took 2 of 5 bytes").isEqualTo(-1L);
        backend.room = 100;
        serve(1);
        assertThat(driver[1].pollUsed()).as("completed once all is taken").isNotEqualTo(-1L);
        assertThat(new String(backend.output(), StandardCharsets.US_ASCII)).isEqualTo("hello");
    }

    @Test
    void withoutAHostSideTheGuestsOutputIsDiscardedAndItsBuffersReturned()
    {
        backend.connected = false;
        driver[1].add(new long[] {DATA}, new int[] {4000}, 1, 0);
        driver[1].publish();
        serve(1);
        assertThat(driver[1].pollUsed()).isNotEqualTo(-1L);
        assertThat(backend.discarded).isEqualTo(4000);
    }

    /**
     * @return the control message the device put in ctrl receive buffer {@code gpa}: id, event, value, name.
     */
    private String controlAt(final long gpa, final int length)
    {
        final String name = length > 8 ? new String(ram.asSlice(gpa + 8, length - 8).toArray(ValueLayout.JAVA_BYTE),
            StandardCharsets.UTF_8) : "";
        return ram.get(LE32, gpa) + " " + MultiportControl.eventName(ram.get(LE16, gpa + 4)) + " "
            + ram.get(LE16, gpa + 6) + (name.isEmpty() ? "" : " " + name);
    }

    private void sendControl(final int id, final int event, final int value)
    {
        final long gpa = DATA + 0x8000;
        ram.set(LE32, gpa, id);
        ram.set(LE16, gpa + 4, (short)event);
        ram.set(LE16, gpa + 6, (short)value);
        driver[3].add(new long[] {gpa}, new int[] {8}, 1, 0);
        driver[3].publish();
        serve(3);
        assertThat(driver[3].pollUsed()).as("control message returned").isNotEqualTo(-1L);
    }

    @Test
    void theMultiportHandshakeAddsPortZeroAsANamedConsoleAndTheGuestOpensAndClosesIt()
    {
        backend.connected = false;
        assertThat(controlMessages()).as("nothing before DEVICE_READY").isEmpty();
        sendControl(0xFFFF_FFFF, MultiportControl.DEVICE_READY, 1);
        assertThat(controlMessages()).containsExactly("0 PORT_ADD 1");
        sendControl(0, MultiportControl.PORT_READY, 1);
        assertThat(controlMessages()).containsExactly("0 CONSOLE_PORT 1", "0 PORT_NAME 1 " + ConsoleDevice.PORT_NAME,
            "0 PORT_OPEN 0");
        assertThat(device.portReady(0)).isTrue();

        sendControl(0, MultiportControl.PORT_OPEN, 1);
        assertThat(device.portOpen(0)).isTrue();
        sendControl(0, MultiportControl.PORT_OPEN, 0);
        assertThat(device.portOpen(0)).isFalse();
        assertThat(device.ignoredControlMessages()).isZero();

        backend.connected = true;
        serve(0);
        assertThat(controlMessages()).as("a host side connected").containsExactly("0 PORT_OPEN 1");
        backend.connected = false;
        serve(1);
        assertThat(controlMessages()).as("and left").containsExactly("0 PORT_OPEN 0");
    }

    @Test
    void hostileControlMessagesAreIgnoredAndTheHandshakeStillWorks()
    {
        sendControl(0, MultiportControl.PORT_READY, 1);
        sendControl(0xFFFF_FFFF, MultiportControl.DEVICE_READY, 1);
        sendControl(0xFFFF_FFFF, MultiportControl.DEVICE_READY, 1);
        sendControl(7, MultiportControl.PORT_READY, 1);
        sendControl(-1, MultiportControl.PORT_OPEN, 1);
        sendControl(0, 99, 1);
        sendControl(0, MultiportControl.PORT_NAME, 1);
        sendControl(0, MultiportControl.RESIZE, 0xFFFF);
        final long gpa = DATA + 0x8000;
        driver[3].add(new long[] {gpa}, new int[] {4}, 1, 0);
        driver[3].add(new long[] {gpa}, new int[] {8}, 0, 1);
        driver[3].publish();
        serve(3);
        assertThat(device.ignoredControlMessages()).as("PORT_READY before PORT_ADD, DEVICE_READY again, port 7,"
            + " port 2^32-1, event 99, two device-only events, 4 bytes, a buffer with nothing to read").isEqualTo(9);

        assertThat(controlMessages()).containsExactly("0 PORT_ADD 1");
        sendControl(0, MultiportControl.PORT_READY, 1);
        assertThat(controlMessages()).hasSize(3);
        assertThat(device.badChains()).isZero();
    }

    @Test
    void aControlBufferTooSmallForTheMessageIsReturnedEmpty()
    {
        sendControl(0xFFFF_FFFF, MultiportControl.DEVICE_READY, 1);
        driver[2].add(new long[] {DATA}, new int[] {7}, 0, 1);
        driver[2].publish();
        serve(2);
        assertThat(usedLength(driver[2].pollUsed())).isZero();
        assertThat(device.ignoredControlMessages()).isEqualTo(1);
    }

    @Test
    void steadyStateTrafficAllocatesNothing()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final byte[] chunk = new byte[512];
        backend.input(chunk);
        long best = Long.MAX_VALUE;
        for (int round = 0; round < 10 && best > 0; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 2000; i++)
            {
                backend.inputPos = 0;
                driver[0].add(rxGpa, rxLength, 0, 1);
                driver[0].publish();
                serve(0);
                driver[0].pollUsed();
                backend.outputSize = 0;
                driver[1].add(txGpa, txLength, 1, 0);
                driver[1].publish();
                serve(1);
                driver[1].pollUsed();
            }
            best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
        }
        assertThat(best).as("bytes allocated by 2000 receive and 2000 transmit requests").isZero();
    }

    private final long[] rxGpa = {DATA};
    private final int[] rxLength = {512};
    private final long[] txGpa = {DATA + 0x1000};
    private final int[] txLength = {512};
    private final long[] ctrlBuffers = new long[SIZE];
    private int ctrlNext;

    /**
     * Posts control receive buffers and collects what the device wrote into them.
     */
    private List<String> controlMessages()
    {
        for (int i = 0; i < 4; i++)
        {
            final long gpa = DATA + 0x10000 + (ctrlNext++ % SIZE) * 0x1000L;
            ctrlBuffers[driver[2].add(new long[] {gpa}, new int[] {4096}, 0, 1)] = gpa;
        }
        driver[2].publish();
        serve(2);
        final java.util.ArrayList<String> got = new java.util.ArrayList<>();
        long used;
        while ((used = driver[2].pollUsed()) != -1)
        {
            got.add(controlAt(ctrlBuffers[usedHead(used)], usedLength(used)));
        }
        return got;
    }
}
