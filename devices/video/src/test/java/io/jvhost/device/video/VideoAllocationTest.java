package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.steady.SteadyStateRing;
import io.jvhost.virtqueue.VirtioFeatures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RESOURCE_QUEUE (the hot command: the stream and resource looked up, the back-end asked) and QUERY_CAPABILITY
 * allocate nothing in steady state.
 */
class VideoAllocationTest
{
    private static final int ITERATIONS = 20_000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void steadyStateCommandsAllocateNothing() throws Exception
    {
        try (SteadyStateRing bench = new SteadyStateRing())
        {
            final MemorySegment ram = bench.ram;
            final VideoDevice device = new VideoDevice("video", new NullVideo());
            device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
            // Stream 5 with input resource 2 (one memory entry at 0x80000).
            ram.set(LE32, 0x20000, VideoDevice.CMD_STREAM_CREATE);
            ram.set(LE32, 0x20004, 5);
            ram.set(LE32, 0x20010, 0x1002);
            ram.set(LE32, 0x20100, VideoDevice.CMD_RESOURCE_CREATE);
            ram.set(LE32, 0x20104, 5);
            ram.set(LE32, 0x20108, VideoDevice.QUEUE_TYPE_INPUT);
            ram.set(LE32, 0x2010C, 2);
            ram.set(LE32, 0x20114, 1);
            ram.set(LE32, 0x20138, 1);
            ram.set(LE64, 0x20100 + 88, 0x80000);
            ram.set(LE32, 0x20100 + 96, 4096);
            bench.allocatedBy(device, new long[][] {{0x20000, 0x30000}, {0x20100, 0x30100}},
                new int[][] {{88, 8}, {104, 8}}, new int[] {1, 1}, 1);
            assertThat(ram.get(LE32, 0x30100)).as("the resource was created once")
                .isIn(VideoDevice.RESP_OK_NODATA, VideoDevice.RESP_ERR_INVALID_RESOURCE_ID);

            ram.set(LE32, 0x20200, VideoDevice.CMD_RESOURCE_QUEUE);
            ram.set(LE32, 0x20204, 5);
            ram.set(LE32, 0x20208, VideoDevice.QUEUE_TYPE_INPUT);
            ram.set(LE32, 0x2020C, 2);
            ram.set(LE32, 0x20218, 1);
            ram.set(LE32, 0x20300, VideoDevice.CMD_QUERY_CAPABILITY);
            ram.set(LE32, 0x20308, VideoDevice.QUEUE_TYPE_OUTPUT);
            final long refusedBefore = device.refusedCommands();
            final long allocated = bench.allocatedBy(device, new long[][] {{0x20200, 0x30200}, {0x20300, 0x30300}},
                new int[][] {{64, 24}, {16, 128}}, new int[] {1, 1}, ITERATIONS);
            assertThat(device.refusedCommands()).as("no command refused by the device's checks")
                .isEqualTo(refusedBefore);
            assertThat(ram.get(LE32, 0x30200)).as("the null back-end's answer to a known resource")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(ram.get(LE32, 0x30300)).isEqualTo(VideoDevice.RESP_OK_QUERY_CAPABILITY);
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }

    @Test
    void heldResourceQueueAndItsCompletionAllocateNothing() throws Exception
    {
        try (SteadyStateRing bench = new SteadyStateRing();
             ScriptedVideo backend = new ScriptedVideo(false))
        {
            final MemorySegment ram = bench.ram;
            final VideoDevice device = new VideoDevice("video", backend);
            device.attach(queue -> { });
            device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
            // Stream 5 with output resource 2 (one memory entry at 0x80000).
            ram.set(LE32, 0x20000, VideoDevice.CMD_STREAM_CREATE);
            ram.set(LE32, 0x20004, 5);
            ram.set(LE32, 0x20010, 0x1002);
            ram.set(LE32, 0x20100, VideoDevice.CMD_RESOURCE_CREATE);
            ram.set(LE32, 0x20104, 5);
            ram.set(LE32, 0x20108, VideoDevice.QUEUE_TYPE_OUTPUT);
            ram.set(LE32, 0x2010C, 2);
            ram.set(LE32, 0x20114, 1);
            ram.set(LE32, 0x20138, 1);
            ram.set(LE64, 0x20100 + 88, 0x80000);
            ram.set(LE32, 0x20100 + 96, 4096);
            bench.allocatedBy(device, new long[][] {{0x20000, 0x30000}, {0x20100, 0x30100}},
                new int[][] {{88, 8}, {104, 8}}, new int[] {1, 1}, 1);

            // RESOURCE_QUEUE of the output (held), then STREAM_DRAIN, during which the back-end reports it (EOS).
            ram.set(LE32, 0x20200, VideoDevice.CMD_RESOURCE_QUEUE);
            ram.set(LE32, 0x20204, 5);
            ram.set(LE32, 0x20208, VideoDevice.QUEUE_TYPE_OUTPUT);
            ram.set(LE32, 0x2020C, 2);
            ram.set(LE64, 0x20210, 99);
            ram.set(LE32, 0x20300, VideoDevice.CMD_STREAM_DRAIN);
            ram.set(LE32, 0x20304, 5);
            final long refusedBefore = device.refusedCommands();
            final long allocated = bench.allocatedBy(device, new long[][] {{0x20200, 0x30200}, {0x20300, 0x30300}},
                new int[][] {{64, 24}, {8, 8}}, new int[] {1, 1}, ITERATIONS);
            assertThat(device.refusedCommands()).as("no command refused by the device's checks")
                .isEqualTo(refusedBefore);
            assertThat(ram.get(LE32, 0x30200)).as("the held command's answer")
                .isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(ram.get(LE64, 0x30208)).as("its timestamp").isEqualTo(99);
            assertThat(ram.get(LE32, 0x30210)).as("its flags").isEqualTo(VideoDevice.BUFFER_FLAG_EOS);
            assertThat(ram.get(LE32, 0x30300)).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(device.heldCommands()).isZero();
            assertThat(allocated).as("bytes allocated by %d iterations", ITERATIONS).isLessThan(1024);
        }
    }

    @Test
    void decodingThroughTheV4l2DecoderAllocatesNothing() throws Exception
    {
        final FakeDecoderNode fake = new FakeDecoderNode();
        fake.decodeOnQueue = true;
        try (SteadyStateRing bench = new SteadyStateRing();
             VideoDevice device = new VideoDevice("video", new V4l2Decoder(fake, 1 << 20)))
        {
            final MemorySegment ram = bench.ram;
            device.attach(queue -> { });
            device.featuresAcked(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1);
            // Stream 5: bitstream resource 1 (a page at 0x80000), frame resource 2 (two pages at 0x90000).
            ram.set(LE32, 0x20000, VideoDevice.CMD_STREAM_CREATE);
            ram.set(LE32, 0x20004, 5);
            ram.set(LE32, 0x20010, 0x1002);
            for (int r = 1; r <= 2; r++)
            {
                final int at = 0x20000 + 0x100 * r;
                ram.set(LE32, at, VideoDevice.CMD_RESOURCE_CREATE);
                ram.set(LE32, at + 4, 5);
                ram.set(LE32, at + 8, r == 1 ? VideoDevice.QUEUE_TYPE_INPUT : VideoDevice.QUEUE_TYPE_OUTPUT);
                ram.set(LE32, at + 12, r);
                ram.set(LE32, at + 20, 1);
                ram.set(LE32, at + 56, 1);
                ram.set(LE64, at + 88, r == 1 ? 0x80000 : 0x90000);
                ram.set(LE32, at + 96, r == 1 ? 4096 : 8192);
            }
            bench.allocatedBy(device, new long[][] {{0x20000, 0x30000}, {0x20100, 0x30100}, {0x20200, 0x30200}},
                new int[][] {{88, 8}, {104, 8}, {104, 8}}, new int[] {1, 1, 1}, 1);
            for (int i = 0; i < 100; i++)
            {
                ram.set(ValueLayout.JAVA_BYTE, 0x80000 + i, (byte)(i * 5));
            }

            // Each round: the frame buffer, then a 100-byte bitstream, which the node decodes at once.
            ram.set(LE32, 0x20400, VideoDevice.CMD_RESOURCE_QUEUE);
            ram.set(LE32, 0x20404, 5);
            ram.set(LE32, 0x20408, VideoDevice.QUEUE_TYPE_OUTPUT);
            ram.set(LE32, 0x2040C, 2);
            ram.set(LE32, 0x20500, VideoDevice.CMD_RESOURCE_QUEUE);
            ram.set(LE32, 0x20504, 5);
            ram.set(LE32, 0x20508, VideoDevice.QUEUE_TYPE_INPUT);
            ram.set(LE32, 0x2050C, 1);
            ram.set(LE64, 0x20510, 3_000_000_000L);
            ram.set(LE32, 0x20518, 1);
            ram.set(LE32, 0x2051C, 100);
            final long refusedBefore = device.refusedCommands();
            final long allocated = bench.allocatedBy(device, new long[][] {{0x20400, 0x30400}, {0x20500, 0x30500}},
                new int[][] {{64, 24}, {64, 24}}, new int[] {1, 1}, ITERATIONS);
            assertThat(device.refusedCommands()).isEqualTo(refusedBefore);
            assertThat(ram.get(LE32, 0x30400)).as("the frame's answer").isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(ram.get(LE64, 0x30408)).as("its timestamp").isEqualTo(3_000_000_000L);
            assertThat(ram.get(LE32, 0x30414)).as("its size").isEqualTo(FakeDecoderNode.SIZEIMAGE);
            assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x90000 + 4000) & 0xFF).as("a decoded byte in guest RAM")
                .isEqualTo((5 * (4000 % 100) + 4000 / 100 * 3 + 0x11) & 0xFF);
            assertThat(allocated).as("bytes allocated by %d decoded frames", ITERATIONS).isLessThan(1024);
        }
    }
}
