package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import static io.jvhost.device.gpu.GpuHarness.create2d;
import static io.jvhost.device.gpu.GpuHarness.cursorCmd;
import static io.jvhost.device.gpu.GpuHarness.flush;
import static io.jvhost.device.gpu.GpuHarness.setScanout;
import static io.jvhost.device.gpu.GpuHarness.transfer;
import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The steady-state data path (TRANSFER_TO_HOST_2D, RESOURCE_FLUSH, MOVE_CURSOR) allocates nothing.
 */
class GpuAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final int W = 256;
    private static final int H = 64;

    /** Drops everything, as fast as possible. */
    static final class NullDisplay implements GpuDisplay
    {
        long pixelsSeen;

        @Override
        public boolean requestDisplayInfo(final Consumer<DisplayMode[]> done)
        {
            return false;
        }

        @Override
        public boolean requestEdid(final int scanout, final Consumer<byte[]> done)
        {
            return false;
        }

        @Override
        public boolean setScanout(final int scanout, final int width, final int height)
        {
            return true;
        }

        @Override
        public void updateScanout(final int scanout, final int x, final int y, final int width, final int height,
            final MemorySegment pixels, final long offset, final int stride, final PixelFormat format)
        {
            pixelsSeen += (long)width * height;
        }

        @Override
        public void defineCursor(final int scanout, final int x, final int y, final int hotX, final int hotY,
            final MemorySegment argb64x64)
        {
        }

        @Override
        public void moveCursor(final int scanout, final int x, final int y, final boolean visible)
        {
            pixelsSeen++;
        }
    }

    private static long place(final GpuHarness h, final GpuHarness.Req req)
    {
        final byte[] bytes = req.array();
        final long gpa = h.alloc(bytes.length);
        h.write(gpa, bytes);
        return gpa;
    }

    private static long cycles(final GpuHarness h, final long[][] control, final long[] move, final int[][] lengths,
        final int[] moveLength)
    {
        long sum = 0;
        for (int i = 0; i < ITERATIONS; i++)
        {
            for (int k = 0; k < control.length; k++)
            {
                h.controlDriver.add(control[k], lengths[k], 1, 1);
            }
            h.controlDriver.publish();
            h.serveControl();
            for (int k = 0; k < control.length; k++)
            {
                final long used = h.controlDriver.pollUsed();
                if ((int)used != HDR_SIZE)
                {
                    throw new AssertionError("used length " + (int)used);
                }
                sum += used;
            }
            h.cursorDriver.add(move, moveLength, 1, 0);
            h.cursorDriver.publish();
            h.serveCursor();
            sum += h.cursorDriver.pollUsed();
        }
        return sum;
    }

    @Test
    void transferFlushAndMoveCursorAllocateNothingInSteadyState() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);

        try (GpuHarness h = new GpuHarness())
        {
            final NullDisplay display = new NullDisplay();
            h.device.setDisplay(display);
            final int xrgb = PixelFormat.B8G8R8X8.value();
            assertThat(h.call(create2d(1, xrgb, W, H)).type()).isEqualTo(RESP_OK_NODATA);
            assertThat(h.attach(1, h.scatteredPages((long)W * H * 4)).type()).isEqualTo(RESP_OK_NODATA);
            assertThat(h.call(setScanout(0, 1, 0, 0, W, H)).type()).isEqualTo(RESP_OK_NODATA);

            final long response = h.alloc(HDR_SIZE);
            final long[][] control = {
                {place(h, transfer(1, 0, 0, W, H, 0)), response},
                {place(h, transfer(1, 10, 3, 77, 20, 3L * W * 4 + 40).fence(1, 0)), response},
                {place(h, flush(1, 0, 0, W, H)), response},
                {place(h, flush(1, 10, 3, 77, 20)), response}};
            final int[][] lengths = {
                {TRANSFER_SIZE, HDR_SIZE}, {TRANSFER_SIZE, HDR_SIZE}, {FLUSH_SIZE, HDR_SIZE}, {FLUSH_SIZE, HDR_SIZE}};
            final long[] move = {place(h, cursorCmd(CMD_MOVE_CURSOR, 0, 100, 100, 1, 0, 0))};
            final int[] moveLength = {CURSOR_CMD_SIZE};

            long sink = cycles(h, control, move, lengths, moveLength);
            sink += cycles(h, control, move, lengths, moveLength);

            final long before = threads.getCurrentThreadAllocatedBytes();
            sink += cycles(h, control, move, lengths, moveLength);
            final long allocated = threads.getCurrentThreadAllocatedBytes() - before;

            assertThat(sink).isNotZero();
            assertThat(display.pixelsSeen).isPositive();
            assertThat(allocated).as("bytes allocated by %d TRANSFER+FLUSH+MOVE_CURSOR cycles", ITERATIONS)
                .isLessThan(4096);
        }
    }
}
