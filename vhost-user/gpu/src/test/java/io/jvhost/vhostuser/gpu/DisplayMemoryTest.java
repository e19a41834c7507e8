package io.jvhost.vhostuser.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.jvhost.device.MemoryBudget;
import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.os.UnixSocket;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * QEMU's display keeps its shadow framebuffers within the device's memory budget: a shadow is reserved before it is
 * allocated, given back when the scanout is off or the display closes, and a size that does not fit is shown
 * disabled (a 0×0 SCANOUT) with {@code setScanout} answering false.
 */
@Timeout(30)
class DisplayMemoryTest
{
    private static final long LIMIT = 1 << 20;

    private final MemoryBudget budget = new MemoryBudget("gpu0", LIMIT);
    private RawQemu qemu;
    private VhostUserGpuDisplay display;

    @BeforeEach
    void connect() throws Exception
    {
        final UnixSocket[] pair = UnixSocket.pair();
        qemu = new RawQemu(pair[1]);
        display = VhostUserGpuDisplay.builder(pair[0]).name("test").replyTimeout(Duration.ofSeconds(5))
            .memoryBudget(budget).start();
        qemu.handshake(0);
    }

    @AfterEach
    void close()
    {
        display.close();
        qemu.close();
    }

    private RawQemu.Msg scanout() throws Exception
    {
        return qemu.readUntil(7);
    }

    @Test
    void shadowsAreReservedAndGivenBackAndOneThatDoesNotFitIsShownDisabled() throws Exception
    {
        assertThat(display.setScanout(0, 256, 256)).isTrue();
        assertThat(budget.used()).isEqualTo(256 * 256 * 4);
        assertThat(scanout().u32(4)).isEqualTo(256);

        // Another scanout that would take the budget one row past 1 MiB.
        assertThat(display.setScanout(1, 512, 385)).isFalse();
        final RawQemu.Msg refused = scanout();
        assertThat(new int[] {refused.u32(0), refused.u32(4), refused.u32(8)}).as("shown disabled")
            .containsExactly(1, 0, 0);
        assertThat(budget.used()).as("nothing reserved for it").isEqualTo(256 * 256 * 4);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment src = arena.allocate(4L * 512 * 385);
            display.updateScanout(1, 0, 0, 512, 385, src, 0, 512 * 4, PixelFormat.B8G8R8X8);
        }
        assertThat(display.droppedUpdates()).as("a disabled scanout takes no pixels").isEqualTo(1);

        // Scanout 0 off gives its shadow back, and then the larger one fits.
        assertThat(display.setScanout(0, 0, 0)).isTrue();
        assertThat(budget.used()).isZero();
        assertThat(display.setScanout(1, 512, 385)).isTrue();
        assertThat(budget.used()).isEqualTo(512 * 385 * 4);
        // A much smaller size does not keep the large shadow.
        assertThat(display.setScanout(1, 64, 64)).isTrue();
        assertThat(budget.used()).isEqualTo(64 * 64 * 4);

        display.close();
        assertThat(budget.used()).as("closing gives everything back").isZero();
    }
}
