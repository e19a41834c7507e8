package io.jvhost.device.video;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.jvhost.os.Errno;

import io.jvhost.vhostuser.frontend.Await;
import io.jvhost.vhostuser.frontend.FrontendQueue;
import io.jvhost.vhostuser.frontend.GuestRam;
import io.jvhost.vhostuser.frontend.ServedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.jvhost.device.video.VideoDriverKit.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link V4l2Decoder} decoding through {@link FakeDecoderNode} (a stateful V4L2 memory-to-memory decoder) behind the
 * real vhost-user back-end, driven by the in-process front-end: QUERY_CAPABILITY lists the node's formats and frame
 * sizes, GET/SET_PARAMS are its G_FMT/S_FMT; bitstreams are copied out of the guest pages into
 * the OUTPUT queue, the fake's frames (decoded on the test's thread, as hardware would, and seen by the node's watch
 * on the device's worker) are copied into the guest pages of the CAPTURE resources across memory entries, with the
 * bitstream's timestamp, the frame size and flags; EAGAIN holds a frame buffer until a frame exists; a drain ends
 * with an empty EOS frame and the next bitstream restarts the decoder; QUEUE_CLEAR and STREAM_DESTROY return what
 * the node held.
 */
@Timeout(60)
class V4l2DecoderFrontendTest
{
    /** The writable reply each posted command gets. */
    private static final int REPLY = 512;
    private static final int H264 = 0x1002;

    @TempDir
    Path dir;

    private ServedDevice served;

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != served)
        {
            served.close();
        }
    }

    private static byte[] resource(final int stream, final int queueType, final int resource, final long... entries)
    {
        final byte[] b = cmd(88 + entries.length / 2 * 16, VideoDevice.CMD_RESOURCE_CREATE, stream, queueType,
            resource, 1, 1);
        final MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE32, 56, entries.length / 2);
        for (int i = 0; i < entries.length / 2; i++)
        {
            s.set(LE64, 88 + 16L * i, entries[2 * i]);
            s.set(LE32, 88 + 16L * i + 8, (int)entries[2 * i + 1]);
        }
        return b;
    }

    private static byte[] bitstream(final int seed, final int length)
    {
        final byte[] b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            b[i] = (byte)(seed * 31 + i * 7);
        }
        return b;
    }

    /**
     * @return the frame the fake decodes from {@code bits}, read back from the guest pages {@code entries}.
     */
    private static void assertFrame(final GuestRam ram, final byte[] bits, final long... entries) throws Exception
    {
        final byte[] frame = new byte[FakeDecoderNode.SIZEIMAGE];
        int at = 0;
        for (int i = 0; i < entries.length / 2 && at < frame.length; i++)
        {
            final int n = (int)Math.min(entries[2 * i + 1], frame.length - at);
            System.arraycopy(ram.read(entries[2 * i], n), 0, frame, at, n);
            at += n;
        }
        assertThat(at).isEqualTo(frame.length);
        for (int i = 0; i < frame.length; i++)
        {
            if ((frame[i] & 0xFF) != FakeDecoderNode.frameByte(bits, i))
            {
                throw new AssertionError("frame byte " + i + " is " + (frame[i] & 0xFF) + ", decoded "
                    + FakeDecoderNode.frameByte(bits, i));
            }
        }
    }

    @Test
    void bitstreamsFromGuestPagesDecodeIntoGuestPagesThroughTheFakeNode() throws Exception
    {
        final FakeDecoderNode fake = new FakeDecoderNode();
        final V4l2Decoder decoder = new V4l2Decoder(fake);
        final VideoDevice device = new VideoDevice("video0", decoder);
        served = ServedDevice.serve("video0", device, dir.resolve("video.sock"));
        served.drive(4L << 20, 1, b -> b.queues(2, 64), (ram, fe, session) ->
        {
            session.start();
            final MemorySegment config = MemorySegment.ofArray(fe.getConfig(0, VideoDevice.CONFIG_SIZE));
            assertThat(config.asSlice(12, FakeDecoderNode.CARD.length()).toArray(ValueLayout.JAVA_BYTE))
                .as("device_name is the node's card").isEqualTo(FakeDecoderNode.CARD.getBytes());
            final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);
            final List<Posted> posted = new ArrayList<>();
            posted.add(post(ram, q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 2, 0, 0, 0x1005), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).as("VP9, which the node refuses (S_FMT EINVAL)")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(fake.openFiles()).isZero();
            posted.add(post(ram, q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, H264), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(fake.codedFormat()).isEqualTo(V4l2Decoder.fourcc("H264"));

            // QUERY_CAPABILITY from the node's ENUM_FMT / ENUM_FRAMESIZES (JPEG, not in the draft, is left out).
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0, VideoDevice.QUEUE_TYPE_INPUT), REPLY));
            final Answer coded = answers(ram, q, posted, 1, REPLY).getFirst();
            assertThat(coded.type()).isEqualTo(VideoDevice.RESP_OK_QUERY_CAPABILITY);
            assertThat(coded.usedLength()).as("2 descriptors of one frame each").isEqualTo(16 + 2 * (24 + 40));
            assertThat(coded.u32(8)).as("num_descs").isEqualTo(2);
            assertThat(coded.bytes().get(LE64, 16)).as("mask: the one raw format").isEqualTo(1);
            assertThat(new int[] {coded.u32(24), coded.u32(36), coded.u32(40), coded.u32(44), coded.u32(48),
                coded.u32(56), coded.u32(60), coded.u32(64)}).as("H264, 1 frame: 16..1920/16 x 16..1088/16")
                .containsExactly(0x1002, 1, 16, 1920, 16, 16, 1088, 16);
            assertThat(coded.u32(16 + 64 + 8)).isEqualTo(0x1004);
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_QUERY_CAPABILITY, 0, VideoDevice.QUEUE_TYPE_OUTPUT), REPLY));
            final Answer raw = answers(ram, q, posted, 1, REPLY).getFirst();
            assertThat(raw.u32(8)).isEqualTo(1);
            assertThat(raw.bytes().get(LE64, 16)).as("mask: both coded formats").isEqualTo(3);
            assertThat(new int[] {raw.u32(24), raw.u32(40), raw.u32(44), raw.u32(56), raw.u32(60)})
                .as("NV12 64x48").containsExactly(3, 64, 64, 48, 48);

            // GET_PARAMS is the node's G_FMT; SET_PARAMS its S_FMT (refused: the errno's code).
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_GET_PARAMS_EXT, 1, VideoDevice.QUEUE_TYPE_OUTPUT), REPLY));
            final Answer params = answers(ram, q, posted, 1, REPLY).getFirst();
            assertThat(params.type()).isEqualTo(VideoDevice.RESP_OK_GET_PARAMS);
            assertThat(params.usedLength()).isEqualTo(128);
            assertThat(new int[] {params.u32(8), params.u32(12), params.u32(16), params.u32(20), params.u32(52),
                params.u32(56), params.u32(60)}).as("queue, NV12, 64x48, 1 plane of sizeimage, stride 64")
                .containsExactly(VideoDevice.QUEUE_TYPE_OUTPUT, 3, 64, 48, 1, FakeDecoderNode.SIZEIMAGE, 64);
            posted.add(post(ram, q, cmd(128, VideoDevice.CMD_SET_PARAMS_EXT, 1, VideoDevice.QUEUE_TYPE_INPUT,
                0x1004), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(fake.codedFormat()).as("VP8 set on the OUTPUT queue").isEqualTo(V4l2Decoder.fourcc("VP80"));
            posted.add(post(ram, q, cmd(128, VideoDevice.CMD_SET_PARAMS_EXT, 1, VideoDevice.QUEUE_TYPE_OUTPUT, 4), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).as("YUV420, which the node refuses (EINVAL)")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);

            // Two bitstream resources of a page each; frame 1 split over two entries, frame 2 in one.
            final long in1 = ram.allocate(4096, 4096);
            final long in2 = ram.allocate(4096, 4096);
            final long out1a = ram.allocate(2048, 4096);
            final long out1b = ram.allocate(4096, 4096);
            final long out2 = ram.allocate(8192, 4096);
            posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_INPUT, 1, in1, 4096), REPLY));
            posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_INPUT, 2, in2, 4096), REPLY));
            posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_OUTPUT, 11, out1a, 2048, out1b, 4096), REPLY));
            posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_OUTPUT, 12, out2, 8192), REPLY));
            assertThat(answers(ram, q, posted, 4, REPLY)).extracting(Answer::type).containsOnly(VideoDevice.RESP_OK_NODATA);

            // Frame buffers first: the node has nothing to give (EAGAIN), so they are held.
            final Posted f1 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 11, 0, 0), REPLY);
            final Posted f2 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 12, 0, 0), REPLY);
            posted.add(f1);
            posted.add(f2);
            assertThat(Await.until(() -> device.heldCommands() == 2, WAIT)).isTrue();
            assertThat(fake.captureStreaming()).as("CAPTURE started at its first buffer").isTrue();

            // Bitstream 1 (300 bytes); the hardware decodes it; the node's watch answers both buffers.
            final byte[] bits1 = bitstream(1, 300);
            ram.write(in1, bits1, 0, bits1.length);
            final long ts1 = 5_000_000_000L + 123_000;
            final Posted b1 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 1, ts1, bits1.length), REPLY);
            posted.add(b1);
            assertThat(Await.until(() -> device.heldCommands() == 3, WAIT)).as("the bitstream held too").isTrue();
            assertThat(fake.decode()).isEqualTo(1);
            final List<Answer> first = answers(ram, q, posted, 2, REPLY);
            assertThat(first).extracting(Answer::head).containsExactly(b1.head(), f1.head());
            assertThat(first.get(0).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(first.get(0).timestamp()).isEqualTo(ts1);
            assertThat(first.get(0).size()).isZero();
            assertThat(first.get(1).type()).isEqualTo(VideoDevice.RESP_OK_RESOURCE_QUEUE);
            assertThat(first.get(1).timestamp()).as("copied from the bitstream").isEqualTo(ts1);
            assertThat(first.get(1).size()).isEqualTo(FakeDecoderNode.SIZEIMAGE);
            assertThat(first.get(1).flags()).as("odd first byte: not a key frame").isZero();
            assertFrame(ram, bits1, out1a, 2048, out1b, 4096);

            // Bitstream 2 into the other page, decoded into frame buffer 12.
            final byte[] bits2 = bitstream(2, 1000);
            bits2[0] = 4;
            ram.write(in2, bits2, 0, bits2.length);
            final Posted b2 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 2, 7_000_000_000L, bits2.length), REPLY);
            posted.add(b2);
            assertThat(Await.until(() -> device.heldCommands() == 2, WAIT)).isTrue();
            assertThat(fake.decode()).isEqualTo(1);
            final List<Answer> second = answers(ram, q, posted, 2, REPLY);
            assertThat(second).extracting(Answer::head).containsExactly(b2.head(), f2.head());
            assertThat(second.get(1).flags()).as("even first byte: a key frame (IFRAME)").isEqualTo(0x4);
            assertThat(second.get(1).timestamp()).isEqualTo(7_000_000_000L);
            assertFrame(ram, bits2, out2, 8192);

            // Drain: answered at once; the node returns the next frame buffer empty, LAST, seen by the watch: EOS.
            final Posted f3 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 11, 0, 0), REPLY);
            posted.add(f3);
            posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DRAIN, 1), REPLY));
            final List<Answer> drained = answers(ram, q, posted, 2, REPLY);
            assertThat(drained).extracting(Answer::head).contains(f3.head());
            final Answer eos = drained.stream().filter(a -> a.head() == f3.head()).findFirst().orElseThrow();
            assertThat(eos.flags()).isEqualTo(VideoDevice.BUFFER_FLAG_EOS);
            assertThat(eos.size()).isZero();

            // The next bitstream restarts the decoder (DECODER_CMD START), or CAPTURE would stay EPIPE.
            final Posted f4 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 12, 0, 0), REPLY);
            final Posted b3 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 1, 9_000_000_000L, 300), REPLY);
            posted.add(f4);
            posted.add(b3);
            assertThat(Await.until(() -> device.heldCommands() == 2, WAIT)).isTrue();
            assertThat(fake.starts()).isEqualTo(1);
            assertThat(fake.decode()).isEqualTo(1);
            assertThat(answers(ram, q, posted, 2, REPLY)).extracting(Answer::head).containsExactly(b3.head(), f4.head());
            assertFrame(ram, bits1, out2, 8192);

            // QUEUE_CLEAR of the frames: the node stops CAPTURE and the held buffer comes back flagged ERR.
            final Posted f5 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_OUTPUT, 11, 0, 0), REPLY);
            posted.add(f5);
            assertThat(Await.until(() -> device.heldCommands() == 1, WAIT)).isTrue();
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_QUEUE_CLEAR, 1, VideoDevice.QUEUE_TYPE_OUTPUT), REPLY));
            final List<Answer> cleared = answers(ram, q, posted, 2, REPLY);
            assertThat(cleared.get(0).head()).isEqualTo(f5.head());
            assertThat(cleared.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
            assertThat(cleared.get(1).type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            assertThat(fake.captureStreaming()).isFalse();

            // A QBUF the node refuses is answered at once with the errno's code; nothing is held.
            fake.failNext(15, Errno.EINVAL);
            posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 2, 0, 10), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(device.heldCommands()).isZero();

            // A bitstream held at STREAM_DESTROY comes back flagged ERR, and the node is closed.
            final Posted b4 = post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 2, 0, 10), REPLY);
            posted.add(b4);
            assertThat(Await.until(() -> device.heldCommands() == 1, WAIT)).isTrue();
            posted.add(post(ram, q, cmd(8, VideoDevice.CMD_STREAM_DESTROY, 1), REPLY));
            final List<Answer> destroyed = answers(ram, q, posted, 2, REPLY);
            assertThat(destroyed.get(0).head()).isEqualTo(b4.head());
            assertThat(destroyed.get(0).flags()).isEqualTo(VideoDevice.BUFFER_FLAG_ERR);
            assertThat(fake.openFiles()).isZero();
            assertThat(q.inFlight()).as("every chain came back").isZero();
            assertThat(fake.frames()).isEqualTo(3);
        });
    }

    @Test
    void hostBuffersBeyondTheBudgetAreRefused() throws Exception
    {
        final FakeDecoderNode fake = new FakeDecoderNode();
        final V4l2Decoder decoder = new V4l2Decoder(fake, 8192);
        final VideoDevice device = new VideoDevice("video0", decoder);
        served = ServedDevice.serve("video0", device, dir.resolve("video.sock"));
        served.drive(4L << 20, 1, b -> b.queues(2, 64), (ram, _, session) ->
        {
            session.start();
            final FrontendQueue q = session.queue(VideoDevice.COMMAND_QUEUE);
            final List<Posted> posted = new ArrayList<>();
            posted.add(post(ram, q, cmd(88, VideoDevice.CMD_STREAM_CREATE, 1, 0, 0, H264), REPLY));
            final long page = ram.allocate(4096, 4096);
            for (int r = 1; r <= 3; r++)
            {
                posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_INPUT, r, page, 4096), REPLY));
            }
            assertThat(answers(ram, q, posted, 4, REPLY)).extracting(Answer::type).containsOnly(VideoDevice.RESP_OK_NODATA);
            // 8,192 bytes of budget: host buffers for resources 1 and 2 only.
            posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 3, 0, 10), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 2, 0, 10), REPLY));
            assertThat(Await.until(() -> device.heldCommands() == 1, WAIT)).as("resource 2 has its buffer").isTrue();
            // Destroying the resources returns the held one and the budget: all three fit again after re-creation.
            assertThat(decoder.hostBytesReserved()).as("host buffers of resources 1 and 2").isEqualTo(8192);
            posted.add(post(ram, q, cmd(16, VideoDevice.CMD_RESOURCE_DESTROY_ALL, 1, VideoDevice.QUEUE_TYPE_INPUT), REPLY));
            assertThat(answers(ram, q, posted, 2, REPLY)).extracting(Answer::type)
                .containsExactly(VideoDevice.RESP_OK_RESOURCE_QUEUE, VideoDevice.RESP_OK_NODATA);
            assertThat(decoder.hostBytesReserved()).isZero();
            posted.add(post(ram, q, resource(1, VideoDevice.QUEUE_TYPE_INPUT, 9, page, 4096), REPLY));
            assertThat(answers(ram, q, posted, 1, REPLY).getFirst().type()).isEqualTo(VideoDevice.RESP_OK_NODATA);
            posted.add(post(ram, q, queue(1, VideoDevice.QUEUE_TYPE_INPUT, 9, 0, 10), REPLY));
            assertThat(Await.until(() -> device.heldCommands() == 1, WAIT)).as("the budget was released").isTrue();
        });
    }
}
