package io.jvhost.device.video;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

import io.jvhost.device.video.wire.Response;
import io.jvhost.os.Ioctl;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;

/**
 * rust-vmm's {@code v4l2-decoder} back-end, as far as this machine can prove it (it has no V4L2 node): at start the
 * node must open and answer VIDIOC_QUERYCAP as a memory-to-memory device (V4L2_CAP_VIDEO_M2M or _M2M_MPLANE in its
 * device_caps), else it is refused naming the errno (ENOENT for a missing node, ENOTTY for one that is not V4L2) or
 * the capabilities it has. Each stream opens the node anew (STREAM_CREATE fails with ERR_INVALID_OPERATION when it
 * does not open) and closes it at STREAM_DESTROY.
 * <p>
 * <b>Not written:</b> decoding through the node (formats, buffers, the host's dequeues and events): QUERY_CAPABILITY
 * lists no format and RESOURCE_QUEUE and GET_PARAMS are ERR_INVALID_OPERATION, as with the null back-end.
 */
public final class V4l2Decoder implements VideoBackend
{
    public static final int CAP_VIDEO_M2M_MPLANE = 0x0000_4000;
    public static final int CAP_VIDEO_M2M = 0x0000_8000;
    public static final int CAP_DEVICE_CAPS = 0x8000_0000;
    /** {@code _IOR('V', 0, struct v4l2_capability)}. */
    private static final long VIDIOC_QUERYCAP = 0x8068_5600L;
    private static final int ENOTTY = 25;
    private static final int O_RDWR = 2;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_CLOEXEC = 0x80000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final String card;
    private final int[] streamIds = new int[VideoDevice.MAX_STREAMS];
    private final int[] fds = new int[VideoDevice.MAX_STREAMS];
    private final NullVideo rest = new NullVideo();

    /**
     * @throws NativeException naming the call, the path and the errno when the node does not open or is not V4L2.
     * @throws IllegalArgumentException naming the capabilities when it is V4L2 but not memory-to-memory.
     */
    public V4l2Decoder(final Path path) throws NativeException
    {
        this.path = path;
        Arrays.fill(fds, -1);
        final int fd = LibC.open(path.toString(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment cap = arena.allocate(104, 8);
            final int rc = new Ioctl().call(fd, VIDIOC_QUERYCAP, cap);
            if (rc < 0)
            {
                throw new NativeException("ioctl VIDIOC_QUERYCAP", -rc, "path=" + path
                    + (-rc == ENOTTY ? " (not a V4L2 device)" : ""));
            }
            final int capabilities = cap.get(LE32, 84);
            final int caps = (capabilities & CAP_DEVICE_CAPS) != 0 ? cap.get(LE32, 88) : capabilities;
            if ((caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE)) == 0)
            {
                throw new IllegalArgumentException(path + " is not a memory-to-memory decoder: device_caps 0x"
                    + Integer.toHexString(caps) + " has neither V4L2_CAP_VIDEO_M2M nor V4L2_CAP_VIDEO_M2M_MPLANE");
            }
            final StringBuilder name = new StringBuilder();
            for (int i = 16; i < 48 && cap.get(ValueLayout.JAVA_BYTE, i) != 0; i++)
            {
                name.append((char)(cap.get(ValueLayout.JAVA_BYTE, i) & 0x7F));
            }
            card = name.toString();
        }
        finally
        {
            LibC.closeQuietly(fd);
        }
    }

    /**
     * A decoder of {@code path} with the given card name, without asking the node (tests: this machine has no V4L2
     * node, so the per-stream paths are exercised against nodes that are not V4L2 or are missing).
     */
    V4l2Decoder(final Path path, final String card)
    {
        this.path = path;
        this.card = card;
        Arrays.fill(fds, -1);
    }

    /**
     * @return streams with the node open.
     */
    int openStreams()
    {
        int n = 0;
        for (final int fd : fds)
        {
            n += fd >= 0 ? 1 : 0;
        }
        return n;
    }

    @Override
    public String deviceName()
    {
        return card;
    }

    @Override
    public int createStream(final int streamId, final int inMemType, final int outMemType, final int codedFormat)
    {
        for (int i = 0; i < fds.length; i++)
        {
            if (fds[i] < 0)
            {
                try
                {
                    fds[i] = LibC.open(path.toString(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
                }
                catch (final NativeException e)
                {
                    System.getLogger(V4l2Decoder.class.getName()).log(System.Logger.Level.WARNING,
                        "v4l2 decoder: stream " + Integer.toUnsignedString(streamId) + ": " + e.getMessage());
                    return VideoDevice.RESP_ERR_INVALID_OPERATION;
                }
                streamIds[i] = streamId;
                return VideoDevice.RESP_OK_NODATA;
            }
        }
        return VideoDevice.RESP_ERR_OUT_OF_MEMORY;
    }

    @Override
    public void destroyStream(final int streamId)
    {
        for (int i = 0; i < fds.length; i++)
        {
            if (fds[i] >= 0 && streamIds[i] == streamId)
            {
                LibC.closeQuietly(fds[i]);
                fds[i] = -1;
            }
        }
    }

    @Override
    public int drain(final int streamId)
    {
        return rest.drain(streamId);
    }

    @Override
    public int createResource(final int streamId, final int queueType, final int resourceId,
        final VideoResource pages)
    {
        return rest.createResource(streamId, queueType, resourceId, pages);
    }

    @Override
    public int destroyResources(final int streamId, final int queueType)
    {
        return rest.destroyResources(streamId, queueType);
    }

    @Override
    public int clearQueue(final int streamId, final int queueType)
    {
        return rest.clearQueue(streamId, queueType);
    }

    @Override
    public int setParams(final int streamId, final int queueType)
    {
        return rest.setParams(streamId, queueType);
    }

    @Override
    public int queryCapability(final int queueType, final Response response)
    {
        return rest.queryCapability(queueType, response);
    }

    @Override
    public int queryControl(final int control, final Response response)
    {
        return rest.queryControl(control, response);
    }

    @Override
    public int getParams(final int streamId, final int queueType, final Response response)
    {
        return rest.getParams(streamId, queueType, response);
    }

    @Override
    public int queueResource(final int streamId, final int queueType, final int resourceId, final long timestamp,
        final int[] dataSizes, final int numDataSizes, final Response response)
    {
        return rest.queueResource(streamId, queueType, resourceId, timestamp, dataSizes, numDataSizes,
            response);
    }

    @Override
    public void close()
    {
        for (int i = 0; i < fds.length; i++)
        {
            LibC.closeQuietly(fds[i]);
            fds[i] = -1;
        }
    }
}
