package io.jvhost.device.input;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.device.ActiveQueue;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.MemoryRegion;
import io.jvhost.virtqueue.DriverQueue;
import io.jvhost.virtqueue.SplitQueue;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.jvhost.device.input.InputCapabilities.CFG_ABS_INFO;
import static io.jvhost.device.input.InputCapabilities.CFG_EV_BITS;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_DEVIDS;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_NAME;
import static io.jvhost.device.input.InputCapabilities.CFG_ID_SERIAL;
import static io.jvhost.device.input.InputCapabilities.CFG_PROP_BITS;
import static io.jvhost.device.input.InputSink.EV_ABS;
import static io.jvhost.device.input.InputSink.EV_KEY;
import static io.jvhost.device.input.InputSink.EV_LED;
import static io.jvhost.device.input.InputSink.EV_REL;
import static io.jvhost.device.input.InputSink.EV_SYN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The device on mock rings: config select/subsel answers, events into eventq buffers, drops, the status queue.
 */
class InputDeviceTest
{
    private static final int SIZE = 64;
    private static final long EVENT_RING = 0x1000;
    private static final long STATUS_RING = 0x8000;
    private static final long DATA = 0x20000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private MemorySegment ram;
    private DriverQueue eventDriver;
    private DriverQueue statusDriver;
    private ActiveQueue eventq;
    private ActiveQueue statusq;
    private long nextBuffer;

    private record Event(int type, int code, int value)
    {
    }

    @BeforeEach
    void setUp() throws Exception
    {
        ram = arena.allocate(1 << 22, 4096);
        final GuestMemory memory = GuestMemory.of(List.of(MemoryRegion.ofSegment(0, ram, 0x5000_0000L)), 8);
        eventDriver = new DriverQueue(ram, 0, SIZE, EVENT_RING);
        statusDriver = new DriverQueue(ram, 0, SIZE, STATUS_RING);
        eventq = new ActiveQueue(InputDevice.EVENT_QUEUE, "input q0", ring(memory, eventDriver), SIZE);
        statusq = new ActiveQueue(InputDevice.STATUS_QUEUE, "input q1", ring(memory, statusDriver), SIZE);
        nextBuffer = DATA;
    }

    private static SplitQueue ring(final GuestMemory memory, final DriverQueue driver) throws Exception
    {
        final SplitQueue ring = new SplitQueue(InputDevice.MAX_QUEUE_SIZE);
        ring.setSize(SIZE);
        ring.setGuestPhysAddresses(driver.descGpa(), driver.availGpa(), driver.usedGpa());
        ring.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        ring.bind(memory);
        return ring;
    }

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Config

    /**
     * What Linux's virtinput_cfg_select does: write select, write subsel, read size; then the caller reads u.
     */
    private static byte[] select(final InputDevice device, final int select, final int subsel)
    {
        device.writeConfig(0, MemorySegment.ofArray(new byte[] {(byte)select}));
        device.writeConfig(1, MemorySegment.ofArray(new byte[] {(byte)subsel}));
        final MemorySegment all = MemorySegment.ofArray(new byte[InputDevice.CONFIG_SIZE]);
        device.readConfig(0, all);
        assertThat(all.get(ValueLayout.JAVA_BYTE, 0)).as("select echoed").isEqualTo((byte)select);
        assertThat(all.get(ValueLayout.JAVA_BYTE, 1)).as("subsel echoed").isEqualTo((byte)subsel);
        assertThat(all.asSlice(3, 5).toArray(ValueLayout.JAVA_BYTE)).as("reserved").containsOnly(0);
        final int size = all.get(ValueLayout.JAVA_BYTE, 2) & 0xFF;
        final byte[] u = all.asSlice(8, 128).toArray(ValueLayout.JAVA_BYTE);
        for (int i = size; i < 128; i++)
        {
            assertThat(u[i]).as("union byte %d past size %d", i, size).isZero();
        }
        return java.util.Arrays.copyOf(u, size);
    }

    private static boolean bit(final byte[] bitmap, final int bit)
    {
        return bit / 8 < bitmap.length && 0 != (bitmap[bit / 8] & (1 << (bit % 8)));
    }

    @Test
    void idNameSerialAndDevidsAnswerTheirSelects()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());

        assertThat(new String(select(device, CFG_ID_NAME, 0), java.nio.charset.StandardCharsets.US_ASCII))
            .isEqualTo(VirtualProfile.COMBINED_NAME);
        assertThat(new String(select(device, CFG_ID_SERIAL, 0), java.nio.charset.StandardCharsets.US_ASCII))
            .isEqualTo("jvhost-combined");
        final MemorySegment ids = MemorySegment.ofArray(select(device, CFG_ID_DEVIDS, 0));
        assertThat(ids.byteSize()).isEqualTo(8);
        assertThat(ids.get(LE16, 0)).as("bustype").isEqualTo((short)InputCodes.BUS_VIRTUAL);
        assertThat(ids.get(LE16, 2)).as("vendor").isEqualTo((short)0x0627);
        assertThat(ids.get(LE16, 4)).as("product").isEqualTo((short)VirtualProfile.COMBINED_PRODUCT);
        assertThat(ids.get(LE16, 6)).as("version").isEqualTo((short)1);
        assertThat(select(device, CFG_ID_NAME, 1)).as("ID_NAME with a subsel").isEmpty();
        assertThat(select(device, CFG_ID_DEVIDS, 3)).as("ID_DEVIDS with a subsel").isEmpty();
    }

    @Test
    void evBitsGiveEachTypesCodesAndNothingForTypesNotSent()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());

        final byte[] keys = select(device, CFG_EV_BITS, EV_KEY);
        assertThat(keys).as("up to BTN_MIDDLE (0x112)").hasSize(0x112 / 8 + 1);
        assertThat(bit(keys, 0)).as("KEY_RESERVED").isFalse();
        assertThat(bit(keys, InputCodes.KEY_ESC)).isTrue();
        assertThat(bit(keys, InputCodes.KEY_A)).isTrue();
        assertThat(bit(keys, InputCodes.KEY_MICMUTE)).isTrue();
        assertThat(bit(keys, 84)).as("unassigned code 84").isFalse();
        assertThat(bit(keys, 197)).as("unassigned code 197").isFalse();
        assertThat(bit(keys, 249)).isFalse();
        assertThat(bit(keys, InputCodes.BTN_LEFT)).isTrue();
        assertThat(bit(keys, InputCodes.BTN_RIGHT)).isTrue();
        assertThat(bit(keys, InputCodes.BTN_MIDDLE)).isTrue();
        assertThat(select(device, CFG_EV_BITS, EV_ABS)).containsExactly(0x03);
        assertThat(select(device, CFG_EV_BITS, EV_REL)).containsExactly(0x00, 0x01);
        assertThat(select(device, CFG_EV_BITS, EV_LED)).containsExactly(0x07);
        assertThat(select(device, CFG_EV_BITS, InputCodes.EV_REP)).as("declared without codes").containsExactly(0);
        assertThat(select(device, CFG_EV_BITS, InputCodes.EV_MSC)).isEmpty();
        assertThat(select(device, CFG_EV_BITS, EV_SYN)).isEmpty();
        assertThat(select(device, CFG_EV_BITS, 0x20)).as("above EV_MAX").isEmpty();
        assertThat(select(device, CFG_EV_BITS, 0xFF)).isEmpty();

        final InputDevice keyboard = new InputDevice("kbd", VirtualKeyboard.capabilities());
        assertThat(select(keyboard, CFG_EV_BITS, EV_KEY)).as("up to KEY_MICMUTE (248)").hasSize(32);
        assertThat(select(keyboard, CFG_EV_BITS, EV_ABS)).isEmpty();
        final InputDevice tablet = new InputDevice("tablet", VirtualTablet.capabilities());
        assertThat(select(tablet, CFG_EV_BITS, EV_LED)).isEmpty();
        assertThat(bit(select(tablet, CFG_EV_BITS, EV_KEY), InputCodes.KEY_A)).isFalse();
    }

    @Test
    void absInfoGivesTheRangeOfEachAxisAndNothingForOthers()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        for (final int axis : new int[] {InputCodes.ABS_X, InputCodes.ABS_Y})
        {
            final MemorySegment abs = MemorySegment.ofArray(select(device, CFG_ABS_INFO, axis));
            assertThat(abs.byteSize()).isEqualTo(20);
            assertThat(abs.get(LE32, 0)).as("min").isZero();
            assertThat(abs.get(LE32, 4)).as("max").isEqualTo(32767);
            assertThat(abs.get(LE32, 8)).as("fuzz").isZero();
            assertThat(abs.get(LE32, 12)).as("flat").isZero();
            assertThat(abs.get(LE32, 16)).as("res").isZero();
        }
        assertThat(select(device, CFG_ABS_INFO, 2)).as("ABS_Z").isEmpty();
        assertThat(select(device, CFG_ABS_INFO, 0x3F)).isEmpty();
        assertThat(select(device, CFG_ABS_INFO, 0x40)).as("above ABS_MAX").isEmpty();
        assertThat(select(device, CFG_ABS_INFO, 0xFF)).isEmpty();
        assertThat(select(new InputDevice("k", VirtualKeyboard.capabilities()), CFG_ABS_INFO, 0)).isEmpty();
    }

    @Test
    void propBitsAreEmptyForThePointerProfilesAndSetWhenDeclared()
    {
        assertThat(select(new InputDevice("t", VirtualTablet.capabilities()), CFG_PROP_BITS, 0))
            .as("a pointer, like QEMU's virtio-tablet").isEmpty();
        final InputCapabilities touch = InputCapabilities.builder("touch").property(InputCodes.INPUT_PROP_DIRECT)
            .abs(0, InputCapabilities.AbsInfo.range(0, 4095)).abs(1, new InputCapabilities.AbsInfo(-5, 5, 1, 2, 3))
            .code(EV_KEY, 0x14a).build();
        final InputDevice device = new InputDevice("touch", touch);
        assertThat(select(device, CFG_PROP_BITS, 0)).containsExactly(0x02);
        assertThat(select(device, CFG_PROP_BITS, 1)).isEmpty();
        final MemorySegment y = MemorySegment.ofArray(select(device, CFG_ABS_INFO, 1));
        assertThat(new int[] {y.get(LE32, 0), y.get(LE32, 4), y.get(LE32, 8), y.get(LE32, 12), y.get(LE32, 16)})
            .containsExactly(-5, 5, 1, 2, 3);
    }

    @Test
    void unknownSelectsAnswerSizeZero()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        for (final int select : new int[] {0x00, 0x04, 0x0f, 0x13, 0x80, 0xff})
        {
            assertThat(select(device, select, 0)).as("select 0x%x", select).isEmpty();
            assertThat(select(device, select, EV_KEY)).as("select 0x%x subsel 1", select).isEmpty();
        }
    }

    @Test
    void aWholeConfigWriteAsQemuSendsTakesOnlySelectAndSubsel()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        select(device, CFG_ID_NAME, 0);
        // QEMU writes back its whole copy of the config: the new select byte, and stale size and data.
        final byte[] write = new byte[InputDevice.CONFIG_SIZE];
        java.util.Arrays.fill(write, (byte)0x5A);
        write[0] = (byte)CFG_EV_BITS;
        write[1] = (byte)EV_LED;
        device.writeConfig(0, MemorySegment.ofArray(write));
        final byte[] read = new byte[InputDevice.CONFIG_SIZE];
        device.readConfig(0, MemorySegment.ofArray(read));
        assertThat(read[0]).isEqualTo((byte)CFG_EV_BITS);
        assertThat(read[1]).isEqualTo((byte)EV_LED);
        assertThat(read[2]).as("size").isEqualTo((byte)1);
        assertThat(read[8]).isEqualTo((byte)0x07);
        assertThat(java.util.Arrays.copyOfRange(read, 9, 136)).containsOnly(0);

        // Writes that miss bytes 0 and 1 change nothing; a write covering both sets both.
        device.writeConfig(2, MemorySegment.ofArray(new byte[] {9, 9, 9}));
        device.writeConfig(8, MemorySegment.ofArray(new byte[128]));
        final byte[] again = new byte[InputDevice.CONFIG_SIZE];
        device.readConfig(0, MemorySegment.ofArray(again));
        assertThat(again).isEqualTo(read);
        device.writeConfig(0, MemorySegment.ofArray(new byte[] {(byte)CFG_ABS_INFO, 1}));
        final byte[] tail = new byte[6];
        device.readConfig(130, MemorySegment.ofArray(tail));
        assertThat(tail).as("the last bytes of the config space").containsOnly(0);
        final byte[] head = new byte[3];
        device.readConfig(0, MemorySegment.ofArray(head));
        assertThat(head).containsExactly(CFG_ABS_INFO, 1, 20);
    }

    @Test
    void resetReturnsToSelectZero()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        select(device, CFG_ID_NAME, 0);
        device.reset();
        final byte[] head = new byte[3];
        device.readConfig(0, MemorySegment.ofArray(head));
        assertThat(head).containsOnly(0);
    }

    @Test
    void longAndNonAsciiNamesAreCutAndReplaced()
    {
        final String longName = "x".repeat(100);
        final InputCapabilities caps = InputCapabilities.builder(longName).serial("s\u00e9rial").code(EV_KEY, 1).build();
        assertThat(caps.name()).hasSize(InputCapabilities.STRING_MAX);
        assertThat(caps.serial()).isEqualTo("s?rial");
        assertThat(select(new InputDevice("x", caps), CFG_ID_NAME, 0)).hasSize(63);
        assertThat(select(new InputDevice("x", caps), CFG_ID_SERIAL, 0)).hasSize(6);
        assertThat(select(new InputDevice("x", InputCapabilities.builder("n").code(EV_KEY, 1).build()), CFG_ID_SERIAL,
            0)).as("no serial").isEmpty();
    }

    @Test
    void capabilitiesRefuseImpossibleValuesNamingThem()
    {
        assertThatThrownBy(() -> InputCapabilities.builder("x").code(0x20, 1)).hasMessageContaining("got 0x20");
        assertThatThrownBy(() -> InputCapabilities.builder("x").code(EV_KEY, 1024)).hasMessageContaining("got 1024");
        assertThatThrownBy(() -> InputCapabilities.builder("x").ids(0x10000, 0, 0, 0))
            .hasMessageContaining("bustype").hasMessageContaining("0x10000");
        assertThatThrownBy(() -> InputCapabilities.builder("x").code(EV_ABS, 5).build())
            .hasMessageContaining("axis 0x5").hasMessageContaining("no range");
        assertThatThrownBy(() -> InputCapabilities.AbsInfo.range(10, 5)).hasMessageContaining("10")
            .hasMessageContaining("5");
        assertThatThrownBy(() -> InputCapabilities.builder("").build()).hasMessageContaining("name");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Events

    private int postEventBuffers(final int count, final int length)
    {
        for (int i = 0; i < count; i++)
        {
            eventDriver.add(new long[] {nextBuffer}, new int[] {length}, 0, 1);
            ram.asSlice(nextBuffer, 64).fill((byte)0xEE);
            nextBuffer += 64;
        }
        eventDriver.publish();
        return count;
    }

    /**
     * @return the events in the used buffers, in order (each buffer's address is found from its head's descriptor).
     */
    private List<Event> usedEvents()
    {
        final List<Event> events = new ArrayList<>();
        long used;
        while ((used = eventDriver.pollUsed()) != -1)
        {
            final int head = (int)(used >>> 32);
            final int length = (int)used;
            if (length == 0)
            {
                events.add(null);
                continue;
            }
            assertThat(length).isEqualTo(InputDevice.EVENT_SIZE);
            final long addr = ram.get(ValueLayout.JAVA_LONG_UNALIGNED, EVENT_RING + 16L * head);
            events.add(new Event(ram.get(LE16, addr) & 0xFFFF, ram.get(LE16, addr + 2) & 0xFFFF,
                ram.get(LE32, addr + 4)));
        }
        return events;
    }

    @Test
    void eventsAreWrittenInOrderOnePerBufferAndWaitForMoreBuffers()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        postEventBuffers(4, 8);
        device.event(EV_KEY, InputCodes.KEY_A, 1);
        device.sync();
        device.event(EV_ABS, InputCodes.ABS_X, 32767);
        device.event(EV_ABS, InputCodes.ABS_Y, 12);
        device.sync();
        device.event(EV_REL, InputCodes.REL_WHEEL, -1);
        device.sync();

        eventq.serve(device);
        assertThat(usedEvents()).containsExactly(new Event(EV_KEY, 30, 1), new Event(0, 0, 0),
            new Event(EV_ABS, 0, 32767), new Event(EV_ABS, 1, 12));
        assertThat(device.pendingEvents()).isEqualTo(3);

        eventq.serve(device);
        assertThat(usedEvents()).as("no buffers, nothing more").isEmpty();

        postEventBuffers(8, 16);
        eventq.serve(device);
        assertThat(usedEvents()).containsExactly(new Event(0, 0, 0), new Event(EV_REL, 8, -1), new Event(0, 0, 0));
        assertThat(device.deliveredEvents()).isEqualTo(7);
        assertThat(device.pendingEvents()).isZero();
        assertThat(device.droppedEvents()).isZero();
    }

    @Test
    void aBufferTooSmallForAnEventIsReturnedUnusedAndTheEventGoesToTheNext()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        postEventBuffers(1, 4);
        postEventBuffers(1, 8);
        device.event(EV_KEY, InputCodes.KEY_B, 0);

        eventq.serve(device);

        final List<Event> used = usedEvents();
        assertThat(used).hasSize(2);
        assertThat(used.get(0)).as("the 4-byte buffer, answered with 0 bytes").isNull();
        assertThat(used.get(1)).isEqualTo(new Event(EV_KEY, 48, 0));
        assertThat(device.badEventBuffers()).isEqualTo(1);
    }

    @Test
    void withoutGuestBuffersTheOldestReportsAreDroppedWholeAndCounted()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities(), 8, null);
        for (int i = 0; i < 20; i++)
        {
            device.event(EV_KEY, InputCodes.KEY_A, i % 2);
            device.event(EV_ABS, InputCodes.ABS_X, i);
            device.sync();
        }
        eventq.serve(device);
        assertThat(usedEvents()).isEmpty();

        postEventBuffers(16, 8);
        eventq.serve(device);
        final List<Event> got = usedEvents();
        assertThat(got).as("whole reports, the newest ones").hasSizeBetween(3, 8);
        assertThat(got.size() % 3).isZero();
        final int reports = got.size() / 3;
        for (int r = 0; r < reports; r++)
        {
            final int i = 20 - reports + r;
            assertThat(got.subList(3 * r, 3 * r + 3)).containsExactly(new Event(EV_KEY, 30, i % 2),
                new Event(EV_ABS, 0, i), new Event(0, 0, 0));
        }
        assertThat(device.droppedEvents()).isEqualTo(60 - got.size());
    }

    @Test
    void eventsQueuedBeforeTheFirstEventQueueStartAfterAResetAreDiscardedAndAResumedQueueKeepsThem()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        device.event(EV_KEY, InputCodes.KEY_A, 1);
        device.sync();
        device.queueStarted(InputDevice.EVENT_QUEUE);
        assertThat(device.pendingEvents()).as("typed before the driver was ready").isZero();

        // VM stop/cont: the queue stops and resumes without a reset; what was typed meanwhile is delivered.
        device.queueStopped(InputDevice.EVENT_QUEUE);
        device.event(EV_KEY, InputCodes.KEY_A, 0);
        device.sync();
        device.queueStarted(InputDevice.EVENT_QUEUE);
        assertThat(device.pendingEvents()).as("a resumed queue keeps them").isEqualTo(2);
        postEventBuffers(4, 8);
        eventq.serve(device);
        assertThat(usedEvents()).containsExactly(new Event(EV_KEY, 30, 0), new Event(0, 0, 0));

        // A driver reset: events typed before the driver's next start are stale.
        device.reset();
        device.event(EV_KEY, InputCodes.KEY_B, 1);
        device.queueStarted(InputDevice.EVENT_QUEUE);
        assertThat(device.pendingEvents()).isZero();
    }

    @Test
    void eventsWakeTheEventQueueOnceUntilItRuns()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        final AtomicInteger wakes = new AtomicInteger();
        device.attach(queue ->
        {
            assertThat(queue).isEqualTo(InputDevice.EVENT_QUEUE);
            wakes.incrementAndGet();
        });
        device.event(EV_KEY, 30, 1);
        device.event(EV_KEY, 30, 0);
        device.sync();
        assertThat(wakes).hasValue(1);
        postEventBuffers(8, 8);
        eventq.serve(device);
        device.event(EV_KEY, 31, 1);
        assertThat(wakes).hasValue(2);
    }

    @Test
    void eventsOutsideTheEvdevRangesAreRefusedNamingThem()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        assertThatThrownBy(() -> device.event(0x20, 0, 0)).hasMessageContaining("type 0x20");
        assertThatThrownBy(() -> device.event(EV_KEY, 0x10000, 0)).hasMessageContaining("code 0x10000");
        assertThatThrownBy(() -> device.event(-1, 0, 0)).hasMessageContaining("type 0xffffffff");
    }

    @Test
    void offersTheFeaturesOfVhostDeviceInput()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        // VERSION_1 | INDIRECT_DESC | EVENT_IDX (PROTOCOL_FEATURES is the transport's).
        assertThat(device.features()).isEqualTo(0x1_3000_0000L);
        assertThat(device.deviceType()).isEqualTo(18);
        assertThat(device.queueCount()).isEqualTo(2);
        assertThat(device.configSize()).isEqualTo(136);
    }

    @Test
    void steadyStateEventsAllocateNothing()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities());
        device.attach(queue ->
        {
        });
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        long least = Long.MAX_VALUE;
        for (int round = 0; round < 30; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 16; i++)
            {
                device.event(EV_ABS, InputCodes.ABS_X, i);
                device.event(EV_ABS, InputCodes.ABS_Y, i);
                device.sync();
                postOne();
                postOne();
                postOne();
                eventq.serve(device);
                while (eventDriver.pollUsed() != -1)
                {
                    nextBuffer -= 64;
                }
            }
            least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
        }
        assertThat(device.deliveredEvents()).isEqualTo(30 * 16 * 3);
        assertThat(least).as("bytes allocated for 48 events in the best round").isZero();
    }

    private final long[] oneGpa = new long[1];
    private final int[] oneLength = {8};

    private void postOne()
    {
        oneGpa[0] = nextBuffer;
        nextBuffer += 64;
        eventDriver.add(oneGpa, oneLength, 0, 1);
        eventDriver.publish();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Status queue

    @Test
    void statusEventsAreAnsweredAndPassedToTheListener()
    {
        final List<Event> seen = new ArrayList<>();
        final InputDevice device = new InputDevice("input0", VirtualKeyboard.capabilities(), 16,
            (type, code, value) -> seen.add(new Event(type, code, value)));
        final long buf = DATA + 0x10000;
        ram.set(LE16, buf, (short)EV_LED);
        ram.set(LE16, buf + 2, (short)InputCodes.LED_CAPSL);
        ram.set(LE32, buf + 4, 1);
        ram.set(LE16, buf + 8, (short)InputCodes.EV_REP);
        ram.set(LE16, buf + 10, (short)0);
        ram.set(LE32, buf + 12, 250);
        statusDriver.add(new long[] {buf}, new int[] {8}, 1, 0);
        statusDriver.add(new long[] {buf + 8}, new int[] {8}, 1, 0);
        statusDriver.add(new long[] {buf}, new int[] {5}, 1, 0);
        statusDriver.publish();

        statusq.serve(device);

        assertThat(seen).containsExactly(new Event(EV_LED, 1, 1), new Event(InputCodes.EV_REP, 0, 250));
        for (int i = 0; i < 3; i++)
        {
            assertThat((int)statusDriver.pollUsed()).as("used length of status buffer %d", i).isZero();
        }
        assertThat(device.statusEvents()).isEqualTo(2);
        assertThat(device.badStatusBuffers()).as("the 5-byte buffer").isEqualTo(1);
    }

    @Test
    void aFailingListenerDoesNotStopTheStatusQueue()
    {
        final InputDevice device = new InputDevice("input0", VirtualKeyboard.capabilities(), 16,
            (type, code, value) ->
            {
                throw new IllegalStateException("boom");
            });
        final long buf = DATA + 0x10000;
        ram.set(LE16, buf, (short)EV_LED);
        statusDriver.add(new long[] {buf}, new int[] {8}, 1, 0);
        statusDriver.add(new long[] {buf}, new int[] {8}, 1, 0);
        statusDriver.publish();
        statusq.serve(device);
        assertThat(statusDriver.pollUsed()).isNotEqualTo(-1L);
        assertThat(statusDriver.pollUsed()).isNotEqualTo(-1L);
        assertThat(device.statusEvents()).isEqualTo(2);
    }
}
