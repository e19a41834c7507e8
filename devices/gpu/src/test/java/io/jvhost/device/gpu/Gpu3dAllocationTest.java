package io.jvhost.device.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.Test;

import io.jvhost.device.gpu.GpuHarness.Req;
import io.jvhost.virgl.ResourceCreateArgs;
import io.jvhost.virgl.VirglCommandStream;
import io.jvhost.virgl.VirglFlags;

import static io.jvhost.device.gpu.GpuProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The 3D data path allocates nothing in steady state: SUBMIT_3D (plain, fenced on context 0 with its answer held
 * until the fence signals, and fenced on the context's ring 0 with VIRTIO_GPU_F_CONTEXT_INIT, answered from
 * write_context_fence), TRANSFER_TO_HOST_3D, TRANSFER_FROM_HOST_3D and RESOURCE_FLUSH read back from
 * virglrenderer.
 */
class Gpu3dAllocationTest
{
    private static final int ITERATIONS = 300;
    private static final int W = 64;
    private static final int H = 32;

    private static long place(final GpuHarness h, final byte[] bytes)
    {
        final long gpa = h.alloc(bytes.length);
        h.write(gpa, bytes);
        return gpa;
    }

    private static long cycles(final GpuHarness h, final long[][] control, final int[][] lengths)
    {
        long sum = 0;
        for (int i = 0; i < ITERATIONS; i++)
        {
            for (int k = 0; k < control.length; k++)
            {
                h.controlDriver.add(control[k], lengths[k], control[k].length - 1, 1);
            }
            h.controlDriver.publish();
            int answered = 0;
            while (answered < control.length)
            {
                h.serveControl();
                long used;
                while (-1 != (used = h.controlDriver.pollUsed()))
                {
                    if ((int)used != HDR_SIZE)
                    {
                        throw new AssertionError("used length " + (int)used);
                    }
                    sum += used;
                    answered++;
                }
            }
        }
        return sum;
    }

    @Test
    void submitTransfersAndFlushAllocateNothingInSteadyState() throws Exception
    {
        Gpu3dTest.requireVirgl();
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);
        final boolean rings = io.jvhost.virgl.VirglLibrary.hasContextInit();
        final GpuHarness h = new GpuHarness(GpuOptions.builder().virgl(VirglFlags.SURFACELESS_EGL, 1 << 2).build(),
            rings ? 1L << F_CONTEXT_INIT : 0);
        try
        {
            final GpuAllocationTest.NullDisplay display = new GpuAllocationTest.NullDisplay();
            h.device.setDisplay(display);
            assertThat(h.call(new Req(CMD_CTX_CREATE, 96).u32(HDR_CTX_ID, 1).u32(28, rings ? 2 : 0)).type())
                .isEqualTo(RESP_OK_NODATA);
            assertThat(h.call(new Req(CMD_RESOURCE_CREATE_3D, 72).u32(24, 1).u32(28, 2).u32(32, 2)
                .u32(36, ResourceCreateArgs.BIND_RENDER_TARGET).u32(40, W).u32(44, H).u32(48, 1).u32(52, 1)).type())
                .isEqualTo(RESP_OK_NODATA);
            assertThat(h.attach(1, h.scatteredPages((long)W * H * 4)).type()).isEqualTo(RESP_OK_NODATA);
            assertThat(h.call(new Req(CMD_CTX_ATTACH_RESOURCE, 32).u32(HDR_CTX_ID, 1).u32(24, 1)).type())
                .isEqualTo(RESP_OK_NODATA);
            assertThat(h.call(GpuHarness.setScanout(0, 1, 0, 0, W, H)).type()).isEqualTo(RESP_OK_NODATA);

            final byte[] stream;
            try (Arena arena = Arena.ofConfined())
            {
                final VirglCommandStream s = new VirglCommandStream(arena, 32);
                s.clearResource(1, 1, ResourceCreateArgs.FORMAT_B8G8R8X8_UNORM, 0.25f, 0.5f, 1, 1);
                stream = s.segment().asSlice(0, s.dwords() * 4L).toArray(ValueLayout.JAVA_BYTE);
            }
            final long commands = place(h, stream);
            final long response = h.alloc(HDR_SIZE);
            final Req transfer = new Req(CMD_TRANSFER_TO_HOST_3D, 72).u32(36, W).u32(40, H).u32(44, 1).u32(56, 1)
                .u32(64, W * 4);
            final Req readBack = new Req(CMD_TRANSFER_FROM_HOST_3D, 72).u32(HDR_CTX_ID, 1).u32(36, W).u32(40, H)
                .u32(44, 1).u32(56, 1).u32(64, W * 4);
            final long[][] control = {
                {place(h, new Req(CMD_SUBMIT_3D, 32).u32(HDR_CTX_ID, 1).u32(24, stream.length).array()), commands,
                    response},
                {place(h, new Req(CMD_SUBMIT_3D, 32).u32(HDR_CTX_ID, 1).u32(24, stream.length).fence(5, 1)
                    .array()), commands, response},
                {place(h, new Req(CMD_SUBMIT_3D, 32).u32(HDR_CTX_ID, 1).u32(24, stream.length).fence(7, 1)
                    .u32(HDR_FLAGS, rings ? FLAG_FENCE | FLAG_INFO_RING_IDX : FLAG_FENCE).array()), commands,
                    response},
                {place(h, transfer.array()), response},
                {place(h, readBack.fence(6, 1).array()), response},
                {place(h, GpuHarness.flush(1, 0, 0, W, H).array()), response},
                {place(h, GpuHarness.flush(1, 3, 2, 17, 9).array()), response}};
            final int[][] lengths = {{32, stream.length, HDR_SIZE}, {32, stream.length, HDR_SIZE},
                {32, stream.length, HDR_SIZE}, {72, HDR_SIZE},
                {72, HDR_SIZE}, {48, HDR_SIZE}, {48, HDR_SIZE}};

            // The downcalls need more rounds than the 2D path before the JIT has compiled away their boxing: steady
            // state is reached when a round allocates nothing (a loaded machine compiles later).
            long sink = 0;
            for (int warm = 0; warm < 12; warm++)
            {
                sink += cycles(h, control, lengths);
            }
            long allocated = Long.MAX_VALUE;
            int rounds = 12;
            for (int attempt = 0; attempt < 20 && allocated >= 4096; attempt++)
            {
                final long before = threads.getCurrentThreadAllocatedBytes();
                sink += cycles(h, control, lengths);
                allocated = threads.getCurrentThreadAllocatedBytes() - before;
                rounds++;
            }

            assertThat(sink).isNotZero();
            assertThat(display.pixelsSeen).isPositive();
            final VirglRendererAdapter adapter = (VirglRendererAdapter)h.device.renderer();
            assertThat(adapter.fencesCreated()).isEqualTo((rings ? 2L : 3L) * rounds * ITERATIONS);
            assertThat(adapter.contextFencesCreated()).isEqualTo(rings ? (long)rounds * ITERATIONS : 0);
            assertThat(allocated).as("bytes allocated by %d SUBMIT(x3)+TRANSFER+FLUSH cycles", ITERATIONS)
                .isLessThan(4096);
        }
        finally
        {
            h.device.workerEnding(0);
            h.close();
        }
    }
}
