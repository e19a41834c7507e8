package io.jvhost.device.input;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import io.jvhost.os.LibC;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Evdev passthrough against a real kernel input device made with uinput: capabilities read with the ioctls,
 * events forwarded, an LED set by the "guest" written back. Needs {@code /dev/uinput} (the uinput module) and the
 * right to open it; skipped otherwise.
 */
@Timeout(30)
class UinputPassthroughTest
{
    private static final int O_RDWR = 2;
    private static final int U = 'U';
    private static final long UI_DEV_CREATE = EvdevIoctl.io(U, 1);
    private static final long UI_DEV_DESTROY = EvdevIoctl.io(U, 2);
    /** struct uinput_setup: struct input_id (8), char name[80], u32 ff_effects_max. */
    private static final long UI_DEV_SETUP = EvdevIoctl.iow(U, 3, 92);
    /** struct uinput_abs_setup: u16 code, 2 bytes padding, struct input_absinfo (24). */
    private static final long UI_ABS_SETUP = EvdevIoctl.iow(U, 4, 28);
    private static final long UI_SET_EVBIT = EvdevIoctl.iow(U, 100, 4);
    private static final long UI_SET_KEYBIT = EvdevIoctl.iow(U, 101, 4);
    private static final long UI_SET_ABSBIT = EvdevIoctl.iow(U, 103, 4);
    private static final long UI_SET_LEDBIT = EvdevIoctl.iow(U, 105, 4);
    private static final String NAME = "jvhost uinput test";

    private record Event(int type, int code, int value)
    {
    }

    private static boolean requireE2e()
    {
        final String value = System.getenv("JVHOST_REQUIRE_E2E");
        return null != value && !value.isEmpty() && !"0".equals(value);
    }

    /**
     * @return where this kernel offers uinput (built in: /proc/misc; a module: /lib/modules), or null if nowhere.
     */
    private static String kernelUinput() throws java.io.IOException
    {
        final Path misc = Path.of("/proc/misc");
        if (Files.isReadable(misc) && Files.readAllLines(misc).stream().anyMatch(l -> l.trim().endsWith(" uinput")))
        {
            return "/proc/misc lists uinput";
        }
        final Path modules = Path.of("/lib/modules", System.getProperty("os.version"));
        if (Files.isDirectory(modules))
        {
            try (java.util.stream.Stream<Path> files = Files.walk(modules))
            {
                if (files.anyMatch(f -> f.getFileName().toString().startsWith("uinput.ko")))
                {
                    return modules + " has a uinput module";
                }
            }
        }
        return null;
    }

    @Test
    void aUinputDeviceIsPassedThroughBothWays() throws Exception
    {
        if (!Files.exists(Path.of("/dev/uinput")))
        {
            // Under ./jvhost test (JVHOST_REQUIRE_E2E) only a kernel without uinput at all may skip: one that has
            // it as a module or built in but no device node is a set-up failure (scripts/setup.sh loads it).
            final String kernel = kernelUinput();
            if (requireE2e() && null != kernel)
            {
                throw new AssertionError("/dev/uinput is missing although " + kernel
                    + "; run `scripts/setup.sh uinput` (modprobe uinput) as root");
            }
            Assumptions.abort("this kernel (" + System.getProperty("os.version") + ") has no uinput: "
                + "not in /proc/misc and no uinput module under /lib/modules");
        }
        final int ui;
        try
        {
            ui = LibC.open("/dev/uinput", O_RDWR | LibC.O_NONBLOCK);
        }
        catch (final java.io.IOException e)
        {
            if (requireE2e())
            {
                throw new AssertionError("cannot open /dev/uinput: " + e.getMessage(), e);
            }
            Assumptions.abort("cannot open /dev/uinput: " + e.getMessage());
            return;
        }
        try (Arena arena = Arena.ofConfined())
        {
            for (final long[] call : new long[][] {{UI_SET_EVBIT, InputSink.EV_KEY}, {UI_SET_KEYBIT, InputCodes.KEY_A},
                {UI_SET_KEYBIT, InputCodes.KEY_B}, {UI_SET_EVBIT, InputSink.EV_ABS}, {UI_SET_ABSBIT, InputCodes.ABS_X},
                {UI_SET_EVBIT, InputSink.EV_LED}, {UI_SET_LEDBIT, InputCodes.LED_CAPSL}})
            {
                LibC.ioctl(ui, call[0], MemorySegment.ofAddress(call[1]));
            }
            final MemorySegment abs = arena.allocate(28, 4);
            abs.set(ValueLayout.JAVA_SHORT, 0, (short)InputCodes.ABS_X);
            abs.set(ValueLayout.JAVA_INT, 4 + 8, 1000);   // maximum (minimum stays 0)
            abs.set(ValueLayout.JAVA_INT, 4 + 20, 12);    // resolution
            LibC.ioctl(ui, UI_ABS_SETUP, abs);
            final MemorySegment setup = arena.allocate(92, 4);
            setup.set(ValueLayout.JAVA_SHORT, 0, (short)InputCodes.BUS_VIRTUAL);
            setup.set(ValueLayout.JAVA_SHORT, 2, (short)0x1234);
            setup.set(ValueLayout.JAVA_SHORT, 4, (short)0x5678);
            setup.set(ValueLayout.JAVA_SHORT, 6, (short)1);
            MemorySegment.copy(NAME.getBytes(StandardCharsets.US_ASCII), 0, setup, ValueLayout.JAVA_BYTE, 8,
                NAME.length());
            LibC.ioctl(ui, UI_DEV_SETUP, setup);
            LibC.ioctl(ui, UI_DEV_CREATE, MemorySegment.NULL);
            try
            {
                passThrough(ui, arena, findEventNode());
            }
            finally
            {
                LibC.ioctl(ui, UI_DEV_DESTROY, MemorySegment.NULL);
            }
        }
        finally
        {
            LibC.closeQuietly(ui);
        }
    }

    private static String findEventNode() throws Exception
    {
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline)
        {
            try (Stream<Path> nodes = Files.list(Path.of("/sys/class/input")))
            {
                for (final Path n : nodes.filter(p -> p.getFileName().toString().startsWith("event")).toList())
                {
                    final Path name = n.resolve("device/name");
                    final Path dev = Path.of("/dev/input", n.getFileName().toString());
                    if (Files.exists(name) && NAME.equals(Files.readString(name).strip()) && Files.exists(dev))
                    {
                        return dev.toString();
                    }
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no /dev/input/event* named '" + NAME + "' appeared");
    }

    private static void passThrough(final int ui, final Arena arena, final String node) throws Exception
    {
        final List<Event> forwarded = Collections.synchronizedList(new ArrayList<>());
        try (EvdevSource source = EvdevSource.open(node, true))
        {
            final InputCapabilities caps = source.capabilities();
            assertThat(caps.name()).isEqualTo(NAME);
            assertThat(new int[] {caps.bustype(), caps.vendor(), caps.product(), caps.version()})
                .containsExactly(InputCodes.BUS_VIRTUAL, 0x1234, 0x5678, 1);
            assertThat(caps.supports(InputSink.EV_KEY, InputCodes.KEY_A)).isTrue();
            assertThat(caps.supports(InputSink.EV_KEY, InputCodes.KEY_ESC)).isFalse();
            assertThat(caps.absInfo(InputCodes.ABS_X)).isEqualTo(new InputCapabilities.AbsInfo(0, 1000, 0, 0, 12));
            assertThat(caps.supports(InputSink.EV_LED, InputCodes.LED_CAPSL)).isTrue();

            source.start((type, code, value) -> forwarded.add(new Event(type, code, value)));
            final MemorySegment events = arena.allocate(2L * EvdevReader.INPUT_EVENT_SIZE, 8);
            events.set(ValueLayout.JAVA_SHORT, 16, (short)InputSink.EV_KEY);
            events.set(ValueLayout.JAVA_SHORT, 18, (short)InputCodes.KEY_A);
            events.set(ValueLayout.JAVA_INT, 20, 1);
            assertThat(LibC.writeRaw(ui, events.address(), events.byteSize())).isEqualTo(events.byteSize());
            final long deadline = System.nanoTime() + 5_000_000_000L;
            while (forwarded.size() < 2 && System.nanoTime() < deadline)
            {
                Thread.sleep(5);
            }
            assertThat(forwarded).containsExactly(new Event(InputSink.EV_KEY, InputCodes.KEY_A, 1), new Event(0, 0, 0));

            // The guest turns Caps Lock on: uinput hands the LED change to its creator.
            source.status(InputSink.EV_LED, InputCodes.LED_CAPSL, 1);
            final MemorySegment in = arena.allocate(EvdevReader.INPUT_EVENT_SIZE * 8L, 8);
            boolean lit = false;
            while (!lit && System.nanoTime() < deadline)
            {
                final long n = LibC.readRaw(ui, in.address(), in.byteSize());
                for (long at = 0; at + EvdevReader.INPUT_EVENT_SIZE <= n; at += EvdevReader.INPUT_EVENT_SIZE)
                {
                    lit |= in.get(ValueLayout.JAVA_SHORT, at + 16) == InputSink.EV_LED
                        && in.get(ValueLayout.JAVA_SHORT, at + 18) == InputCodes.LED_CAPSL
                        && in.get(ValueLayout.JAVA_INT, at + 20) == 1;
                }
                Thread.sleep(5);
            }
            assertThat(lit).as("the LED change reached the device").isTrue();
        }
    }
}
