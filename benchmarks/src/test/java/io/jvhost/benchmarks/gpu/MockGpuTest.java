package io.jvhost.benchmarks.gpu;

import java.lang.management.ManagementFactory;

import com.sun.management.ThreadMXBean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The device path GpuTransferFlushBenchmark measures: TRANSFER_TO_HOST_2D + RESOURCE_FLUSH through GpuDevice on the
 * mock ring succeeds and allocates nothing once warm (what {@code -prof gc} is to show).
 */
class MockGpuTest
{
    @ParameterizedTest
    @EnumSource(MockGpu.Backing.class)
    void transferAndFlushSucceedAndAllocateNothing(final MockGpu.Backing backing) throws Exception
    {
        final ThreadMXBean mx = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        try (MockGpu gpu = new MockGpu(640, 480, MockGpu.Display.COPY, backing))
        {
            int cell = 0;
            for (int i = 0; i < 20_000; i++)
            {
                cell = nextCell(gpu, cell);
                assertThat(gpu.update()).isEqualTo(2 * 0x1100);
            }
            final int ops = 20_000;
            final long before = mx.getCurrentThreadAllocatedBytes();
            int sum = 0;
            for (int i = 0; i < ops; i++)
            {
                cell = nextCell(gpu, cell);
                sum += gpu.update();
            }
            final long allocated = mx.getCurrentThreadAllocatedBytes() - before;
            assertThat(sum).isEqualTo(ops * 2 * 0x1100);
            assertThat(allocated).as("bytes allocated by %d cell updates", ops).isLessThan(ops);
            gpu.setRect(0, 0, 640, 480);
            assertThat(gpu.update()).isEqualTo(2 * 0x1100);
        }
    }

    @Test
    void resourcesComeAndGoAndAResetDropsThemAll() throws Exception
    {
        try (MockGpu gpu = new MockGpu(64, 64, MockGpu.Display.DISCARD, MockGpu.Backing.CONTIGUOUS))
        {
            assertThat(gpu.createAndUnref(2, 1024, 768)).isEqualTo(2 * 0x1100);
            assertThat(gpu.resourceCount()).isEqualTo(1);
            gpu.createResources(10, 100, 16, 16);
            assertThat(gpu.resourceCount()).isEqualTo(101);
            gpu.resetDevice();
            assertThat(gpu.resourceCount()).isZero();
        }
    }

    private static int nextCell(final MockGpu gpu, final int cell)
    {
        final int next = (cell + 7) % (10 * 30);
        gpu.setRect(next % 10 * 64, next / 10 * 16, 64, 16);
        return next;
    }
}
