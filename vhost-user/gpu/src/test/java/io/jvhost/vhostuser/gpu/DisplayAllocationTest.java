package io.jvhost.vhostuser.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.jvhost.device.gpu.PixelFormat;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pixel updates, cursor moves and the writer that sends them allocate nothing once warm: neither in the GPU
 * worker's thread (the caller) nor in the display's writer thread. Measured in a fresh JVM, like the front-end's
 * steady-state test (JIT profiles shaped by other tests can leave JDK-internal downcall checks un-inlined).
 */
@Timeout(120)
class DisplayAllocationTest
{
    private static final int UPDATES = 3_000;
    private static final String RESULT = "least bytes allocated per run (caller, writer): ";

    @TempDir
    Path dir;

    private static void run(final VhostUserGpuDisplay display, final QemuDisplayEmulator qemu,
        final MemorySegment frame)
    {
        for (int i = 0; i < UPDATES; i++)
        {
            final long before = qemu.messages(GpuRequest.UPDATE);
            final int x = i & 63;
            display.updateScanout(0, x, i & 31, 64, 32, frame, 0, 256 * 4, PixelFormat.B8G8R8X8);
            if ((i & 7) == 0)
            {
                display.moveCursor(0, x, i & 255, (i & 8) == 0);
            }
            // Wait for this update to arrive, so the writer sends one message per update.
            while (qemu.messages(GpuRequest.UPDATE) == before)
            {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * Runs in the child JVM; prints the result line.
     */
    public static void main(final String[] args) throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        try (Arena arena = Arena.ofConfined();
             QemuDisplayEmulator qemu = QemuDisplayEmulator.builder().modes(QemuDisplayEmulator.Mode.of(256, 128))
                 .trace(false).start();
             VhostUserGpuDisplay display = VhostUserGpuDisplay.builder(UnixSocket.adopt(qemu.takeBackendFd()))
                 .name("probe").start())
        {
            final MemorySegment frame = arena.allocate(256L * 128 * 4, 64);
            display.setScanout(0, 256, 128);
            Thread writer = null;
            for (final Thread t : Thread.getAllStackTraces().keySet())
            {
                if (t.getName().equals("probe-display-writer"))
                {
                    writer = t;
                }
            }
            if (null == writer)
            {
                throw new AssertionError("no writer thread");
            }
            // Twelve runs: the cursor path (one call in eight) must be compiled by C2, whose escape analysis
            // removes the temporaries that C1-compiled code still allocates.
            for (int i = 0; i < 12; i++)
            {
                run(display, qemu, frame);
            }
            long caller = Long.MAX_VALUE;
            long sender = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++)
            {
                final long c0 = threads.getCurrentThreadAllocatedBytes();
                final long w0 = threads.getThreadAllocatedBytes(writer.threadId());
                run(display, qemu, frame);
                caller = Math.min(caller, threads.getCurrentThreadAllocatedBytes() - c0);
                sender = Math.min(sender, threads.getThreadAllocatedBytes(writer.threadId()) - w0);
            }
            if (!qemu.violations().isEmpty())
            {
                throw new AssertionError("violations: " + qemu.violations());
            }
            System.out.println(RESULT + caller + " " + sender);
        }
    }

    @Test
    void updatesCursorMovesAndTheWriterAllocateNothingInSteadyState() throws Exception
    {
        final Path output = dir.resolve("probe.out");
        final Process probe = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny", "-cp",
                System.getProperty("java.class.path"), DisplayAllocationTest.class.getName()))
            .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        assertThat(probe.waitFor(100, TimeUnit.SECONDS)).as("probe finished").isTrue();
        final String out = Files.readString(output);
        assertThat(probe.exitValue()).as(out).isZero();
        final String[] result = out.substring(out.indexOf(RESULT) + RESULT.length()).strip().split("\\s+");
        assertThat(Long.parseLong(result[0])).as("bytes the caller allocated for %d updates", UPDATES)
            .isLessThan(1024);
        assertThat(Long.parseLong(result[1])).as("bytes the writer allocated for %d updates", UPDATES)
            .isLessThan(1024);
    }
}
