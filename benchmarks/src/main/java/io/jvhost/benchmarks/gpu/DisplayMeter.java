package io.jvhost.benchmarks.gpu;

import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;

import io.jvhost.vhostuser.frontend.gpu.QemuDisplayEmulator;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuPayloads;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * Counts the pixel bytes the display emulator has consumed (read off the socket and composited into its surface),
 * whatever UPDATE sizes a back-end chooses: QEMU's C back-end sends a flush as one UPDATE, jvhost as bands of at most
 * 1 MiB. While a workload runs nothing but UPDATE messages reach the display, so
 * {@code pixel bytes = Δbytes − ΔUPDATEs × (12-byte header + 20-byte UPDATE header)}; {@link #checkOnlyUpdates()}
 * verifies that assumption afterwards.
 */
final class DisplayMeter
{
    private static final int UPDATE_OVERHEAD = MessageHeader.LENGTH + GpuPayloads.UPDATE_HEADER_SIZE;

    private final QemuDisplayEmulator display;
    private long bytes0;
    private long updates0;
    private long messages0;
    private long target;
    /** Reused so waiting allocates nothing; evaluated under the emulator's lock. */
    private final BooleanSupplier reached = () -> pixelBytes() >= target;

    DisplayMeter(final QemuDisplayEmulator display)
    {
        this.display = display;
        reset();
    }

    /**
     * Starts counting from now.
     */
    void reset()
    {
        bytes0 = display.bytes();
        updates0 = display.messages(GpuRequest.UPDATE);
        messages0 = display.messages();
    }

    /**
     * @return UPDATE pixel bytes consumed since {@link #reset()}.
     */
    long pixelBytes()
    {
        return display.bytes() - bytes0 - UPDATE_OVERHEAD * (display.messages(GpuRequest.UPDATE) - updates0);
    }

    /**
     * @return UPDATE messages consumed since {@link #reset()}.
     */
    long updates()
    {
        return display.messages(GpuRequest.UPDATE) - updates0;
    }

    /**
     * Waits until at least {@code bytes} pixel bytes were consumed since {@link #reset()}.
     *
     * @throws IllegalStateException if they did not arrive within {@code timeout}.
     */
    void awaitPixelBytes(final long bytes, final Duration timeout) throws InterruptedException
    {
        target = bytes;
        if (!display.await(reached, timeout))
        {
            final List<String> violations = display.violations();
            throw new IllegalStateException("the display received " + pixelBytes() + " of " + bytes
                + " UPDATE pixel bytes within " + timeout.toMillis() + " ms (" + violations.size()
                + " protocol violations" + (violations.isEmpty() ? "" : ", the last: " + violations.getLast()) + ")");
        }
    }

    /**
     * @throws IllegalStateException if anything but UPDATE reached the display since {@link #reset()}.
     */
    void checkOnlyUpdates()
    {
        final long others = display.messages() - messages0 - updates();
        if (others != 0)
        {
            throw new IllegalStateException(others + " non-UPDATE display messages during a pixel workload");
        }
    }
}
