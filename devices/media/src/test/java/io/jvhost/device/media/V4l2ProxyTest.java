package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import io.jvhost.os.DeviceNode;
import io.jvhost.os.Errno;
import io.jvhost.os.NativeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link NullMedia}, and {@link V4l2Proxy}'s error paths (this machine has no V4L2 node): a missing node and a node that is not V4L2 are
 * refused at start with the errno's name; a session's open and ioctls pass the host's errno on to the guest.
 */
class V4l2ProxyTest
{
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    @Test
    void aMissingNodeIsRefusedWithEnoent()
    {
        final Path missing = dir.resolve("video9");
        assertThatThrownBy(() -> new V4l2Proxy(missing)).isInstanceOf(NativeException.class)
            .hasMessageContaining("ENOENT").hasMessageContaining(missing.toString())
            .satisfies(e -> assertThat(((NativeException)e).errno()).isEqualTo(Errno.ENOENT));
    }

    @Test
    void aNodeThatIsNotV4l2IsRefusedWithEnotty() throws Exception
    {
        final Path notVideo = Files.writeString(dir.resolve("not-video"), "x");
        assertThatThrownBy(() -> new V4l2Proxy(notVideo)).isInstanceOf(NativeException.class)
            .hasMessageContaining("VIDIOC_QUERYCAP").hasMessageContaining("ENOTTY")
            .hasMessageContaining("not a V4L2 device")
            .satisfies(e -> assertThat(((NativeException)e).errno()).isEqualTo(MediaDevice.ENOTTY));
        assertThatThrownBy(() -> new V4l2Proxy(Path.of("/dev/null"))).hasMessageContaining("ENOTTY");
    }

    @Test
    void theNullBackEndAnswersQuerycapAndNothingElse()
    {
        final MemorySegment payload = MemorySegment.ofArray(new byte[V4l2.MAX_PAYLOAD]);
        try (NullMedia none = new NullMedia())
        {
            assertThat(none.deviceCaps()).isZero();
            assertThat(none.open(0)).isZero();
            assertThat(none.ioctl(0, V4l2.QUERYCAP, payload, null, null)).isZero();
            assertThat(payload.get(LE32, 88)).as("device_caps").isZero();
            assertThat(payload.get(LE32, 84)).as("capabilities").isEqualTo(V4l2.CAP_DEVICE_CAPS);
            assertThat(none.ioctl(0, V4l2.G_FMT, payload, null, null)).isEqualTo(MediaDevice.ENOTTY);
            assertThat(none.hasDequeued()).isFalse();
            assertThat(none.nextDequeued(payload)).isEqualTo(-1);
            none.close(0);
        }
    }

    @Test
    void sessionsPassTheHostsErrnoToTheGuest() throws Exception
    {
        final MemorySegment payload = MemorySegment.ofArray(new byte[V4l2.MAX_PAYLOAD]);
        payload.set(LE32, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        try (V4l2Proxy proxy = new V4l2Proxy(DeviceNode.host(Path.of("/dev/null")), V4l2.CAP_VIDEO_CAPTURE, "null"))
        {
            assertThat(proxy.open(0)).as("open of /dev/null").isZero();
            assertThat(proxy.ioctl(0, V4l2.G_FMT, payload, null, null)).as("VIDIOC_G_FMT on /dev/null")
                .isEqualTo(MediaDevice.ENOTTY);
            assertThat(payload.get(LE32, 0)).as("payload untouched after an error")
                .isEqualTo(V4l2.BUF_TYPE_VIDEO_CAPTURE);
            payload.fill((byte)0);
            payload.set(LE32, 0, 2);
            payload.set(LE32, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE);
            payload.set(LE32, 8, V4l2.MEMORY_USERPTR);
            assertThat(proxy.ioctl(0, V4l2.REQBUFS, payload, null, null)).as("VIDIOC_REQBUFS on /dev/null")
                .isEqualTo(MediaDevice.ENOTTY);
            proxy.close(0);
        }
        try (V4l2Proxy gone = new V4l2Proxy(DeviceNode.host(dir.resolve("video7")), V4l2.CAP_VIDEO_CAPTURE, "gone"))
        {
            assertThat(gone.open(3)).as("open of a node that went away").isEqualTo(Errno.ENOENT);
        }
    }
}
