package io.jvhost.device.video;

import java.nio.file.Files;
import java.nio.file.Path;

import io.jvhost.device.video.wire.Response;
import io.jvhost.os.Errno;
import io.jvhost.os.NativeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link V4l2Decoder}'s error paths (this machine has no V4L2 node): a missing node and a node that is not V4L2 are
 * refused at start, naming the path and the errno.
 */
class V4l2DecoderTest
{
    @TempDir
    Path dir;

    @Test
    void aMissingNodeIsRefusedWithEnoent()
    {
        final Path missing = dir.resolve("video3");
        assertThatThrownBy(() -> new V4l2Decoder(missing)).isInstanceOf(NativeException.class)
            .hasMessageContaining("ENOENT").hasMessageContaining(missing.toString())
            .satisfies(e -> assertThat(((NativeException)e).errno()).isEqualTo(Errno.ENOENT));
    }

    @Test
    void aNodeThatIsNotV4l2IsRefusedWithEnotty() throws Exception
    {
        final Path file = Files.writeString(dir.resolve("not-video"), "x");
        assertThatThrownBy(() -> new V4l2Decoder(file)).isInstanceOf(NativeException.class)
            .hasMessageContaining("VIDIOC_QUERYCAP").hasMessageContaining("ENOTTY")
            .hasMessageContaining("not a V4L2 device");
        assertThatThrownBy(() -> new V4l2Decoder(Path.of("/dev/null"))).hasMessageContaining("ENOTTY");
    }

    @Test
    void aNodeThatRefusesTheFormatOrIsMissingCreatesNoStream() throws Exception
    {
        final Response response = new Response();
        response.wrap(java.lang.foreign.MemorySegment.ofArray(new byte[Response.MAX_SIZE]));
        try (V4l2Decoder decoder = new V4l2Decoder(Path.of("/dev/null"), "null node"))
        {
            assertThat(decoder.createStream(1, 0, 0, 0x1002)).as("a node that refuses the coded format (ENOTTY)")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            assertThat(decoder.openStreams()).as("its descriptor was closed").isZero();
            assertThat(decoder.queueResource(2, VideoDevice.QUEUE_TYPE_INPUT, 0, 0, new int[8], 0, response))
                .as("no such stream").isEqualTo(8);
            assertThat(response.type()).isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
        }
        try (V4l2Decoder gone = new V4l2Decoder(dir.resolve("video8"), "gone"))
        {
            assertThat(gone.createStream(1, 0, 0, 0x1002)).as("a node that went away")
                .isEqualTo(VideoDevice.RESP_ERR_INVALID_OPERATION);
            assertThat(gone.openStreams()).isZero();
        }
    }
}
