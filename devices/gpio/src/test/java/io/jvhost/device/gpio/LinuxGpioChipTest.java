package io.jvhost.device.gpio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.jvhost.os.LibC;
import io.jvhost.vhostuser.frontend.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LinuxGpioChip}'s GPIO character device v2 ioctls as the kernel would see them: this machine has no GPIO
 * chip, so a fake ioctl decodes the native structures as gpiolib-cdev does (struct gpiochip_info,
 * gpio_v2_line_info, gpio_v2_line_request with its gpio_v2_line_config, gpio_v2_line_values, on x86-64) and hands
 * out one end of a socket pair as each line request's descriptor, into which the test writes
 * {@code struct gpio_v2_line_event}s.
 */
class LinuxGpioChipTest
{
    @TempDir
    Path dir;

    private final List<String> calls = new ArrayList<>();
    private final List<Integer> peerFds = new ArrayList<>();
    private final Arena arena = Arena.ofShared();
    private int nextFd = -1;

    @BeforeEach
    void setUp() throws IOException
    {
        Files.write(dir.resolve("gpiochip9"), new byte[0]);
    }

    @AfterEach
    void tearDown()
    {
        peerFds.forEach(LibC::closeQuietly);
        arena.close();
    }

    private static String cString(final MemorySegment s, final long offset)
    {
        int n = 0;
        while (s.get(ValueLayout.JAVA_BYTE, offset + n) != 0)
        {
            n++;
        }
        return new String(s.asSlice(offset, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    private static String config(final MemorySegment c)
    {
        final long flags = c.get(ValueLayout.JAVA_LONG, 0);
        final int attrs = c.get(ValueLayout.JAVA_INT, 8);
        String s = "flags=0x" + Long.toHexString(flags);
        if (attrs > 0)
        {
            s += " attr" + c.get(ValueLayout.JAVA_INT, 32) + "=" + c.get(ValueLayout.JAVA_LONG, 40) + "/mask="
                + c.get(ValueLayout.JAVA_LONG, 48);
        }
        return s;
    }

    private int ioctl(final int fd, final long request, final MemorySegment arg)
    {
        if (request == LinuxGpioChip.GPIO_GET_CHIPINFO_IOCTL)
        {
            final MemorySegment info = arg.reinterpret(LinuxGpioChip.CHIPINFO_SIZE);
            info.set(ValueLayout.JAVA_INT, 64, 4);
            calls.add("CHIPINFO");
            return 0;
        }
        if (request == LinuxGpioChip.GPIO_V2_GET_LINEINFO_IOCTL)
        {
            final MemorySegment info = arg.reinterpret(LinuxGpioChip.LINEINFO_SIZE);
            final int offset = info.get(ValueLayout.JAVA_INT, 64);
            final byte[] name = ("pin" + offset).getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(MemorySegment.ofArray(name), 0, info, 0, name.length);
            info.set(ValueLayout.JAVA_LONG, 72, offset == 1 ? LinuxGpioChip.FLAG_OUTPUT | LinuxGpioChip.FLAG_USED
                : LinuxGpioChip.FLAG_INPUT);
            return 0;
        }
        if (request == LinuxGpioChip.GPIO_V2_GET_LINE_IOCTL)
        {
            final MemorySegment r = arg.reinterpret(LinuxGpioChip.REQUEST_SIZE);
            calls.add("GET_LINE offset=" + r.get(ValueLayout.JAVA_INT, 0) + " lines="
                + r.get(ValueLayout.JAVA_INT, LinuxGpioChip.REQUEST_NUM_LINES) + " consumer="
                + cString(r, LinuxGpioChip.REQUEST_CONSUMER) + " "
                + config(r.asSlice(LinuxGpioChip.REQUEST_CONFIG, LinuxGpioChip.CONFIG_SIZE)));
            try
            {
                final MemorySegment pair = arena.allocate(8, 4);
                LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, pair);
                r.set(ValueLayout.JAVA_INT, LinuxGpioChip.REQUEST_FD, pair.get(ValueLayout.JAVA_INT, 0));
                peerFds.add(pair.get(ValueLayout.JAVA_INT, 4));
                nextFd = pair.get(ValueLayout.JAVA_INT, 0);
            }
            catch (final Exception e)
            {
                throw new IllegalStateException(e);
            }
            return 0;
        }
        if (request == LinuxGpioChip.GPIO_V2_LINE_SET_CONFIG_IOCTL)
        {
            calls.add("SET_CONFIG fd=" + (fd == nextFd ? "line" : fd) + " "
                + config(arg.reinterpret(LinuxGpioChip.CONFIG_SIZE)));
            return 0;
        }
        if (request == LinuxGpioChip.GPIO_V2_LINE_GET_VALUES_IOCTL)
        {
            final MemorySegment v = arg.reinterpret(16);
            calls.add("GET_VALUES mask=" + v.get(ValueLayout.JAVA_LONG, 8));
            v.set(ValueLayout.JAVA_LONG, 0, 1);
            return 0;
        }
        if (request == LinuxGpioChip.GPIO_V2_LINE_SET_VALUES_IOCTL)
        {
            final MemorySegment v = arg.reinterpret(16);
            calls.add("SET_VALUES bits=" + v.get(ValueLayout.JAVA_LONG, 0) + " mask=" + v.get(ValueLayout.JAVA_LONG, 8));
            return 0;
        }
        calls.add("unknown 0x" + Long.toHexString(request));
        return -25;
    }

    @Test
    void linesAreDescribedRequestedDrivenAndReadThroughTheV2Structures() throws IOException
    {
        try (LinuxGpioChip chip = LinuxGpioChip.open(dir.resolve("gpiochip9"), this::ioctl))
        {
            assertThat(chip.lineCount()).isEqualTo(4);
            assertThat(chip.name(2)).isEqualTo("pin2");
            assertThat(chip.direction(1)).isEqualTo(GpioChip.DIRECTION_OUT);
            assertThat(chip.direction(0)).isEqualTo(GpioChip.DIRECTION_IN);
            assertThat(chip.value(0)).as("not requested yet").isEqualTo(-1);
            calls.clear();

            assertThat(chip.setValue(2, 1)).as("kept for the direction").isTrue();
            assertThat(chip.setDirection(2, GpioChip.DIRECTION_OUT, 1)).isTrue();
            assertThat(chip.setValue(2, 0)).isTrue();
            assertThat(chip.value(2)).isEqualTo(1);
            assertThat(chip.setDirection(2, GpioChip.DIRECTION_IN, 0)).isTrue();
            assertThat(calls).containsExactly(
                "GET_LINE offset=2 lines=1 consumer=jvhost flags=0x8 attr2=1/mask=1",
                "SET_VALUES bits=0 mask=1",
                "GET_VALUES mask=1",
                "SET_CONFIG fd=line flags=0x4");
            assertThat(chip.setDirection(2, GpioChip.DIRECTION_NONE, 0)).isTrue();
            assertThat(chip.value(2)).as("released").isEqualTo(-1);
        }
    }

    @Test
    void anArmedLinesEdgeEventsReachTheListenerAndLevelsAreRefused() throws Exception
    {
        try (LinuxGpioChip chip = LinuxGpioChip.open(dir.resolve("gpiochip9"), this::ioctl))
        {
            final AtomicInteger fired = new AtomicInteger(-1);
            chip.onInterrupt(fired::set);
            assertThat(chip.setIrqType(3, GpioChip.IRQ_LEVEL_HIGH)).as("no level interrupts in the cdev").isFalse();
            calls.clear();
            assertThat(chip.setIrqType(3, GpioChip.IRQ_EDGE_BOTH)).isTrue();
            assertThat(calls).containsExactly("GET_LINE offset=3 lines=1 consumer=jvhost flags=0x34");

            final MemorySegment event = arena.allocate(LinuxGpioChip.EVENT_SIZE, 8);
            event.set(ValueLayout.JAVA_INT, 8, 1);
            event.set(ValueLayout.JAVA_INT, 12, 3);
            assertThat(LibC.writeRaw(peerFds.get(0), event.address(), LinuxGpioChip.EVENT_SIZE))
                .isEqualTo(LinuxGpioChip.EVENT_SIZE);
            assertThat(Await.until(() -> fired.get() == 3, Duration.ofSeconds(10))).as("the event reached the listener")
                .isTrue();

            calls.clear();
            assertThat(chip.setIrqType(3, GpioChip.IRQ_NONE)).isTrue();
            assertThat(calls).containsExactly("SET_CONFIG fd=line flags=0x4");
        }
    }

    @Test
    void aChipThatCannotBeOpenedIsNamed()
    {
        assertThatThrownBy(() -> LinuxGpioChip.open(dir.resolve("gpiochip7"), this::ioctl))
            .hasMessageContaining("cannot open GPIO chip " + dir.resolve("gpiochip7") + ": ENOENT");
    }
}
