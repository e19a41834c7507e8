package io.jvhost.device.input;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import io.jvhost.os.LibC;
import io.jvhost.os.UnixSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.input.InputSink.EV_ABS;
import static io.jvhost.device.input.InputSink.EV_KEY;
import static io.jvhost.device.input.InputSink.EV_SYN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The evdev side: ioctl numbers, reading recorded {@code struct input_event} streams, opening non-evdev files.
 */
@Timeout(30)
class EvdevTest
{
    private record Event(int type, int code, int value)
    {
    }

    /**
     * Collects events; thread-safe.
     */
    private static final class Recorder implements InputSink
    {
        final List<Event> events = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void event(final int type, final int code, final int value)
        {
            events.add(new Event(type, code, value));
        }
    }

    @TempDir
    Path dir;

    @Test
    void ioctlNumbersMatchLinuxInputH()
    {
        // Values as the C macros give them on x86-64 and aarch64.
        assertThat(EvdevIoctl.EVIOCGVERSION).isEqualTo(0x80044501L);
        assertThat(EvdevIoctl.EVIOCGID).isEqualTo(0x80084502L);
        assertThat(EvdevIoctl.EVIOCGRAB).isEqualTo(0x40044590L);
        assertThat(EvdevIoctl.eviocgname(256)).isEqualTo(0x81004506L);
        assertThat(EvdevIoctl.eviocgphys(64)).isEqualTo(0x80404507L);
        assertThat(EvdevIoctl.eviocguniq(256)).isEqualTo(0x81004508L);
        assertThat(EvdevIoctl.eviocgprop(128)).isEqualTo(0x80804509L);
        assertThat(EvdevIoctl.eviocgbit(0, 4)).isEqualTo(0x80044520L);
        assertThat(EvdevIoctl.eviocgbit(EV_KEY, 96)).isEqualTo(0x80604521L);
        assertThat(EvdevIoctl.eviocgbit(EV_ABS, 128)).isEqualTo(0x80804523L);
        assertThat(EvdevIoctl.eviocgbit(InputSink.EV_LED, 2)).isEqualTo(0x80024531L);
        assertThat(EvdevIoctl.eviocgabs(InputCodes.ABS_X)).isEqualTo(0x80184540L);
        assertThat(EvdevIoctl.eviocgabs(0x2f)).as("ABS_MT_SLOT").isEqualTo(0x8018456fL);
        // uinput's, the same encoding with type 'U'.
        assertThat(EvdevIoctl.io('U', 1)).as("UI_DEV_CREATE").isEqualTo(0x5501L);
        assertThat(EvdevIoctl.iow('U', 100, 4)).as("UI_SET_EVBIT").isEqualTo(0x40045564L);
        assertThat(EvdevIoctl.iow('U', 3, 92)).as("UI_DEV_SETUP").isEqualTo(0x405c5503L);
    }

    @Test
    void ioctlFieldsOutOfRangeAreRefusedNamingThem()
    {
        assertThatThrownBy(() -> EvdevIoctl.eviocgname(1 << 14)).hasMessageContaining("size=16384");
        assertThatThrownBy(() -> EvdevIoctl.eviocgbit(0x20, 4)).hasMessageContaining("0x20");
        assertThatThrownBy(() -> EvdevIoctl.eviocgabs(0x40)).hasMessageContaining("0x40");
        assertThatThrownBy(() -> EvdevIoctl.ioc(4, 'E', 0, 0)).hasMessageContaining("dir=4");
    }

    /**
     * Recorded {@code struct input_event}s with time stamps, as {@code cat /dev/input/eventN > file} makes them.
     */
    private static byte[] record(final int[][] events)
    {
        final ByteBuffer b = ByteBuffer.allocate(events.length * EvdevReader.INPUT_EVENT_SIZE)
            .order(ByteOrder.nativeOrder());
        long usec = 0;
        for (final int[] e : events)
        {
            b.putLong(1_700_000_000L).putLong(usec += 8000).putShort((short)e[0]).putShort((short)e[1]).putInt(e[2]);
        }
        return b.array();
    }

    private static final int[][] STREAM = {
        {EV_KEY, InputCodes.KEY_A, 1}, {EV_SYN, 0, 0},
        {EV_ABS, InputCodes.ABS_X, 32767}, {EV_ABS, InputCodes.ABS_Y, -3}, {EV_SYN, 0, 0},
        // The kernel dropped events for this reader: everything up to the next SYN_REPORT is discarded.
        {EV_SYN, InputCodes.SYN_DROPPED, 0}, {EV_KEY, InputCodes.KEY_B, 1}, {EV_SYN, 0, 0},
        {EV_KEY, InputCodes.KEY_A, 0}, {InputCodes.EV_MSC, 4, 0x70004}, {EV_SYN, 0, 0},
    };

    private static final List<Event> FORWARDED = List.of(new Event(EV_KEY, 30, 1), new Event(0, 0, 0),
        new Event(EV_ABS, 0, 32767), new Event(EV_ABS, 1, -3), new Event(0, 0, 0),
        new Event(EV_KEY, 30, 0), new Event(InputCodes.EV_MSC, 4, 0x70004), new Event(0, 0, 0));

    @Test
    void aRecordedStreamInAFileIsForwardedWithoutTimeStampsAndDroppedReportsSkipped() throws Exception
    {
        final Path file = dir.resolve("recording.bin");
        Files.write(file, record(STREAM));
        final Recorder sink = new Recorder();
        final int fd = LibC.open(file.toString(), 0);
        try (EvdevReader reader = new EvdevReader(file.toString(), fd, sink))
        {
            reader.start();
            assertThat(reader.awaitEnd(10_000)).as("reads the file to its end").isTrue();
            assertThat(sink.events).containsExactlyElementsOf(FORWARDED);
            assertThat(reader.forwardedEvents()).isEqualTo(8);
            assertThat(reader.discardedEvents()).as("SYN_DROPPED, KEY_B, its SYN_REPORT").isEqualTo(3);
        }
        finally
        {
            LibC.closeQuietly(fd);
        }
    }

    @Test
    void aStreamFromASocketIsReassembledAcrossPartialReadsAndTheReaderStopsOnClose() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        final Recorder sink = new Recorder();
        try (Arena arena = Arena.ofConfined();
             UnixSocket writer = pair[0];
             UnixSocket readSide = pair[1])
        {
            final EvdevReader reader = new EvdevReader("socket", readSide.fd(), sink).start();
            final byte[] bytes = record(STREAM);
            final MemorySegment seg = arena.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length);
            // Cut in the middle of the third record, then the rest.
            assertThat(LibC.writeRaw(writer.fd(), seg.address(), 60)).isEqualTo(60);
            awaitSize(sink, 2);
            assertThat(LibC.writeRaw(writer.fd(), seg.address() + 60, bytes.length - 60))
                .isEqualTo(bytes.length - 60);
            awaitSize(sink, FORWARDED.size());
            assertThat(sink.events).containsExactlyElementsOf(FORWARDED);

            final long start = System.nanoTime();
            reader.close();
            assertThat(reader.isRunning()).isFalse();
            assertThat(System.nanoTime() - start).as("close wakes the blocked reader").isLessThan(2_000_000_000L);
        }
    }

    private static void awaitSize(final Recorder sink, final int size) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (sink.events.size() < size && System.nanoTime() < deadline)
        {
            Thread.sleep(2);
        }
        assertThat(sink.events).hasSizeGreaterThanOrEqualTo(size);
    }

    @Test
    void forwardingIntoTheDeviceAllocatesNothing()
    {
        final InputDevice device = new InputDevice("input0", VirtualProfile.COMBINED.capabilities(), 64, null);
        final byte[] bytes = record(new int[][] {{EV_ABS, 0, 5}, {EV_ABS, 1, 6}, {EV_SYN, 0, 0}});
        final MemorySegment records = Arena.ofAuto().allocate(bytes.length);
        MemorySegment.copy(bytes, 0, records, ValueLayout.JAVA_BYTE, 0, bytes.length);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        try
        {
            final EvdevReader reader = new EvdevReader("alloc", -1, device);
            long least = Long.MAX_VALUE;
            for (int round = 0; round < 20; round++)
            {
                final long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 100; i++)
                {
                    reader.forward(records, bytes.length);
                }
                least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
            }
            reader.close();
            assertThat(least).as("bytes allocated forwarding 300 events").isZero();
            assertThat(device.droppedEvents()).as("the ring overflowed and dropped").isPositive();
        }
        catch (final IOException e)
        {
            throw new AssertionError(e);
        }
    }

    @Test
    void openingAMissingDeviceNamesThePathAndErrno()
    {
        assertThatThrownBy(() -> EvdevSource.open("/dev/input/event-missing", false))
            .isInstanceOf(IOException.class)
            .hasMessage("cannot open input device /dev/input/event-missing: ENOENT");
    }

    @Test
    void aFileThatIsNotAnEvdevDeviceIsRefusedThroughTheIoctl()
    {
        // /dev/null answers every ioctl with ENOTTY: this goes through LibC.ioctl for real.
        assertThatThrownBy(() -> EvdevSource.open("/dev/null", false))
            .isInstanceOf(IOException.class)
            .hasMessage("/dev/null is not an evdev input device (EVIOCGVERSION failed: ENOTTY)");
    }
}
