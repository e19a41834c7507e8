package io.jvhost.device.video;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

import io.jvhost.device.FdWatch;
import io.jvhost.device.LogThrottle;
import io.jvhost.device.MemoryBudget;
import io.jvhost.device.video.wire.Command;
import io.jvhost.device.video.wire.Response;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.os.DeviceNode;
import io.jvhost.os.Errno;
import io.jvhost.os.NativeException;

/**
 * rust-vmm's {@code v4l2-decoder} back-end: a stateful V4L2 memory-to-memory decoder (single-planar API, USERPTR
 * memory) behind the virtio-video decoder.
 * <ul>
 *   <li>At start the node must answer VIDIOC_QUERYCAP as a memory-to-memory device (V4L2_CAP_VIDEO_M2M or
 *       _M2M_MPLANE in its device_caps), else it is refused naming the errno (ENOENT, ENOTTY) or its caps.</li>
 *   <li>STREAM_CREATE opens the node (ERR_INVALID_OPERATION when it does not open), sets the OUTPUT (bitstream)
 *       queue's format to the coded format (S_FMT; refused: ERR_INVALID_PARAMETER) and watches the descriptor on
 *       the device's worker.</li>
 *   <li>The first RESOURCE_QUEUE of a queue asks for as many V4L2 buffers as resources were created on it
 *       (REQBUFS, USERPTR) and gives each a host buffer of its resource's size (at most {@value #MAX_BUFFER_SIZE}
 *       bytes, all streams' together within a budget, 256 MiB); V4L2 buffer index = the resource's order of creation. A resource created after that, or beyond the
 *       count the node granted, is refused when queued (ERR_INVALID_PARAMETER).</li>
 *   <li>RESOURCE_QUEUE of a bitstream copies its first data size (bounded by the resource) out of the guest pages
 *       into the host buffer and queues it (QBUF, timestamp as a timeval: microsecond precision); of a frame buffer
 *       queues its host buffer, holding a reference to the guest memory snapshot until the frame is copied or the
 *       buffer returned (a new memory table never unmaps pages under a pending copy, as in devices/media); each queue is started (STREAMON) at its first buffer. The command is held
 *       ({@link VideoBackend#HELD}).</li>
 *   <li>When the node is readable (a frame decoded), and after every RESOURCE_QUEUE, the decoder dequeues both
 *       queues until EAGAIN (never blocking): a bitstream buffer is reported with its timestamp and size 0, a frame
 *       is copied into its resource's guest pages (bytesused, bounded by the resource) and reported with the
 *       timestamp V4L2 copied from its bitstream, its size, and flags: V4L2_BUF_FLAG_ERROR as ERR, _LAST as EOS,
 *       _KEYFRAME/_PFRAME/_BFRAME as IFRAME/PFRAME/BFRAME.</li>
 *   <li>STREAM_DRAIN sends V4L2_DEC_CMD_STOP (answered at once; the last frame comes back flagged EOS), and the
 *       next bitstream after it V4L2_DEC_CMD_START. QUEUE_CLEAR stops the queue (STREAMOFF, which returns every
 *       buffer in V4L2); RESOURCE_DESTROY_ALL stops it and frees its buffers (REQBUFS 0); STREAM_DESTROY closes
 *       the node.</li>
 * </ul>
 * <ul>
 *   <li>QUERY_CAPABILITY lists the formats the node enumerated at start (VIDIOC_ENUM_FMT of OUTPUT: coded, of
 *       CAPTURE: NV12, YUV420, YVU420; others are skipped), each with its first VIDIOC_ENUM_FRAMESIZES range as one
 *       frame without frame rates, and a mask naming every format of the other queue.</li>
 *   <li>GET_PARAMS is the queue's VIDIOC_G_FMT (format, size, crop = the whole frame, one plane of sizeimage and
 *       bytesperline, buffers 1 to 64); SET_PARAMS its VIDIOC_S_FMT (format, size, and for the bitstream the plane
 *       size as sizeimage): EINVAL is ERR_INVALID_PARAMETER, other errors ERR_INVALID_OPERATION.</li>
 * </ul>
 * Not written: the multi-planar API, MMAP/DMABUF memory, the source-change event (a decoder that needs the CAPTURE
 * queue set up after it has parsed the stream's headers is not followed), frame rates and the RGB formats.
 */
public final class V4l2Decoder implements VideoBackend
{
    public static final int CAP_VIDEO_M2M_MPLANE = 0x0000_4000;
    public static final int CAP_VIDEO_M2M = 0x0000_8000;
    public static final int CAP_DEVICE_CAPS = 0x8000_0000;
    /** The largest host buffer of one resource. */
    public static final int MAX_BUFFER_SIZE = 16 << 20;
    /** The host buffers of all streams together, by default. */
    public static final long HOST_BUFFER_BUDGET = 256L << 20;

    public static final int BUF_TYPE_VIDEO_CAPTURE = 1;
    public static final int BUF_TYPE_VIDEO_OUTPUT = 2;
    public static final int MEMORY_USERPTR = 2;
    public static final int BUF_FLAG_KEYFRAME = 0x8;
    public static final int BUF_FLAG_PFRAME = 0x10;
    public static final int BUF_FLAG_BFRAME = 0x20;
    public static final int BUF_FLAG_ERROR = 0x40;
    public static final int BUF_FLAG_LAST = 0x0010_0000;
    public static final int BUF_FLAG_TIMESTAMP_COPY = 0x4000;
    public static final int DEC_CMD_START = 0;
    public static final int DEC_CMD_STOP = 1;

    public static final long VIDIOC_QUERYCAP = ioc(2, 0, 104);
    public static final long VIDIOC_ENUM_FMT = ioc(3, 2, 64);
    public static final long VIDIOC_ENUM_FRAMESIZES = ioc(3, 74, 44);
    public static final long VIDIOC_G_FMT = ioc(3, 4, 208);
    public static final long VIDIOC_S_FMT = ioc(3, 5, 208);
    public static final long VIDIOC_REQBUFS = ioc(3, 8, 20);
    public static final long VIDIOC_QBUF = ioc(3, 15, 88);
    public static final long VIDIOC_DQBUF = ioc(3, 17, 88);
    public static final long VIDIOC_STREAMON = ioc(1, 18, 4);
    public static final long VIDIOC_STREAMOFF = ioc(1, 19, 4);
    public static final long VIDIOC_DECODER_CMD = ioc(3, 96, 72);

    private static final int ENOTTY = 25;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final System.Logger LOG = System.getLogger(V4l2Decoder.class.getName());

    private final DeviceNode node;
    private final String card;
    private final Stream[] streams = new Stream[VideoDevice.MAX_STREAMS];
    private final NullVideo rest = new NullVideo();
    private final MemoryBudget budget;
    /** The node's formats at start, as draft v3 formats: OUTPUT (coded) and CAPTURE (raw), each with its sizes. */
    private final int[][] formats = new int[2][];
    /** Per format: min/max/step width, min/max/step height, or null without ENUM_FRAMESIZES. */
    private final int[][][] sizes = new int[2][][];
    private Host host;

    /** One V4L2 queue of a stream: its resources (by order of creation = V4L2 index) and host buffers. */
    private static final class Queue
    {
        final int v4l2Type;
        final int queueType;
        final int[] resourceIds = new int[VideoDevice.MAX_RESOURCES];
        final VideoResource[] pages = new VideoResource[VideoDevice.MAX_RESOURCES];
        final MemorySegment[] buffers = new MemorySegment[VideoDevice.MAX_RESOURCES];
        final boolean[] queued = new boolean[VideoDevice.MAX_RESOURCES];
        /** The guest memory snapshot a queued frame buffer will be copied through, retained until then. */
        final GuestMemory[] memory = new GuestMemory[VideoDevice.MAX_RESOURCES];
        int resources;
        /** Host buffer bytes reserved from the budget. */
        long reserved;
        /** Buffers REQBUFS granted, -1 before the first. */
        int granted = -1;
        boolean streaming;
        Arena arena;

        Queue(final int v4l2Type, final int queueType)
        {
            this.v4l2Type = v4l2Type;
            this.queueType = queueType;
        }

        void unqueue(final int index)
        {
            queued[index] = false;
            if (null != memory[index])
            {
                memory[index].release();
                memory[index] = null;
            }
        }

        void unqueueAll()
        {
            for (int i = 0; i < queued.length; i++)
            {
                unqueue(i);
            }
        }

        int indexOf(final int resourceId)
        {
            for (int i = 0; i < resources; i++)
            {
                if (resourceIds[i] == resourceId)
                {
                    return i;
                }
            }
            return -1;
        }
    }

    /** A stream: its descriptor on the node, its watch, its queues and the ioctl structures it reuses. */
    private final class Stream
    {
        final int id;
        final int fd;
        final Arena arena = Arena.ofShared();
        final MemorySegment buf = arena.allocate(88, 8);
        final MemorySegment arg = arena.allocate(208, 8);
        final Queue input = new Queue(BUF_TYPE_VIDEO_OUTPUT, VideoDevice.QUEUE_TYPE_INPUT);
        final Queue output = new Queue(BUF_TYPE_VIDEO_CAPTURE, VideoDevice.QUEUE_TYPE_OUTPUT);
        FdWatch watch;
        boolean stopped;
        long failures;

        Stream(final int id, final int fd)
        {
            this.id = id;
            this.fd = fd;
        }

        Queue queue(final int queueType)
        {
            return queueType == VideoDevice.QUEUE_TYPE_INPUT ? input : output;
        }

        void fail(final String what, final int errno)
        {
            if (LogThrottle.due(++failures))
            {
                LOG.log(Level.WARNING, "v4l2 decoder: stream " + Integer.toUnsignedString(id) + ": " + what
                    + " failed: " + Errno.name(errno) + " (" + failures + " failures so far)");
            }
        }
    }

    /**
     * @throws NativeException naming the call, the path and the errno when the node does not open or is not V4L2.
     * @throws IllegalArgumentException naming the capabilities when it is V4L2 but not memory-to-memory.
     */
    public V4l2Decoder(final Path path) throws NativeException
    {
        this(DeviceNode.host(path));
    }

    /**
     * A decoder of {@code node}, which must answer QUERYCAP as a memory-to-memory device.
     *
     * @throws NativeException naming the call, the node and the errno when it does not open or is not V4L2.
     * @throws IllegalArgumentException naming the capabilities when it is V4L2 but not memory-to-memory.
     */
    public V4l2Decoder(final DeviceNode node) throws NativeException
    {
        this(node, HOST_BUFFER_BUDGET);
    }

    /**
     * A decoder of {@code node} whose host buffers together stay within {@code hostBufferBudget} bytes.
     */
    V4l2Decoder(final DeviceNode node, final long hostBufferBudget) throws NativeException
    {
        this.node = node;
        this.budget = new MemoryBudget("v4l2 decoder", hostBufferBudget);
        final int fd = node.open();
        if (fd < 0)
        {
            throw new NativeException("open", -fd, "path=" + node);
        }
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment cap = arena.allocate(104, 8);
            final int rc = node.ioctl(fd, VIDIOC_QUERYCAP, cap);
            if (rc < 0)
            {
                throw new NativeException("ioctl VIDIOC_QUERYCAP", -rc, "path=" + node
                    + (-rc == ENOTTY ? " (not a V4L2 device)" : ""));
            }
            final int capabilities = cap.get(I32, 84);
            final int caps = (capabilities & CAP_DEVICE_CAPS) != 0 ? cap.get(I32, 88) : capabilities;
            if ((caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE)) == 0)
            {
                throw new IllegalArgumentException(node + " is not a memory-to-memory decoder: device_caps 0x"
                    + Integer.toHexString(caps) + " has neither V4L2_CAP_VIDEO_M2M nor V4L2_CAP_VIDEO_M2M_MPLANE");
            }
            final StringBuilder name = new StringBuilder();
            for (int i = 16; i < 48 && cap.get(ValueLayout.JAVA_BYTE, i) != 0; i++)
            {
                name.append((char)(cap.get(ValueLayout.JAVA_BYTE, i) & 0x7F));
            }
            card = name.toString();
            enumerate(fd, arena, 0, BUF_TYPE_VIDEO_OUTPUT);
            enumerate(fd, arena, 1, BUF_TYPE_VIDEO_CAPTURE);
        }
        finally
        {
            node.close(fd);
        }
    }

    /**
     * A decoder of {@code path} with the given card name, without asking the node (tests of the per-stream paths
     * against nodes that are not V4L2 or are missing).
     */
    V4l2Decoder(final Path path, final String card)
    {
        this.node = DeviceNode.host(path);
        this.card = card;
        this.budget = new MemoryBudget("v4l2 decoder", HOST_BUFFER_BUDGET);
        formats[0] = new int[0];
        formats[1] = new int[0];
        sizes[0] = new int[0][];
        sizes[1] = new int[0][];
    }

    /**
     * Lists the formats of one queue (VIDIOC_ENUM_FMT until EINVAL, at most 32) that draft v3 names, each with its
     * first frame size range (VIDIOC_ENUM_FRAMESIZES index 0: stepwise or continuous as a range, discrete as one
     * size).
     */
    private void enumerate(final int fd, final Arena arena, final int which, final int type)
    {
        final MemorySegment desc = arena.allocate(64, 8);
        final MemorySegment frame = arena.allocate(44, 8);
        final java.util.List<int[]> found = new java.util.ArrayList<>();
        for (int index = 0; index < 32; index++)
        {
            desc.fill((byte)0);
            desc.set(I32, 0, index);
            desc.set(I32, 4, type);
            if (node.ioctl(fd, VIDIOC_ENUM_FMT, desc) < 0)
            {
                break;
            }
            final int pixelFormat = desc.get(I32, 44);
            final int format = virtioFormat(pixelFormat);
            if (format == 0)
            {
                continue;
            }
            frame.fill((byte)0);
            frame.set(I32, 4, pixelFormat);
            int[] size = null;
            if (node.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, frame) == 0)
            {
                size = frame.get(I32, 8) == 1
                    ? new int[] {frame.get(I32, 12), frame.get(I32, 12), 0, frame.get(I32, 16), frame.get(I32, 16), 0}
                    : new int[] {frame.get(I32, 12), frame.get(I32, 16), frame.get(I32, 20), frame.get(I32, 24),
                        frame.get(I32, 28), frame.get(I32, 32)};
            }
            found.add(new int[] {format});
            found.add(size);
        }
        formats[which] = new int[found.size() / 2];
        sizes[which] = new int[found.size() / 2][];
        for (int i = 0; i < formats[which].length; i++)
        {
            formats[which][i] = found.get(2 * i)[0];
            sizes[which][i] = found.get(2 * i + 1);
        }
    }

    /**
     * @return the draft v3 format of a V4L2 pixel format (coded 0x1000.., raw NV12 3, YUV420 4, YVU420 5), or 0.
     */
    static int virtioFormat(final int pixelFormat)
    {
        for (int f = 0x1000; f <= 0x1006; f++)
        {
            if (pixelFormat(f) == pixelFormat)
            {
                return f;
            }
        }
        for (int f = 3; f <= 5; f++)
        {
            if (pixelFormat(f) == pixelFormat)
            {
                return f;
            }
        }
        return 0;
    }

    private static long ioc(final int dir, final int nr, final int size)
    {
        return ((long)dir << 30) | ((long)size << 16) | ('V' << 8) | nr;
    }

    /**
     * @return the V4L2 pixel format of a draft v3 format (coded, or raw NV12, YUV420, YVU420), or 0.
     */
    static int pixelFormat(final int codedFormat)
    {
        return switch (codedFormat)
        {
            case 0x1000 -> fourcc("MPG2");
            case 0x1001 -> fourcc("MPG4");
            case 0x1002 -> fourcc("H264");
            case 0x1003 -> fourcc("HEVC");
            case 0x1004 -> fourcc("VP80");
            case 0x1005 -> fourcc("VP90");
            case 0x1006 -> fourcc("FWHT");
            case 3 -> fourcc("NV12");
            case 4 -> fourcc("YU12");
            case 5 -> fourcc("YV12");
            default -> 0;
        };
    }

    static int fourcc(final String s)
    {
        return s.charAt(0) | s.charAt(1) << 8 | s.charAt(2) << 16 | s.charAt(3) << 24;
    }

    /**
     * @return host buffer bytes reserved from the budget (0 once every stream is destroyed).
     */
    long hostBytesReserved()
    {
        return budget.used();
    }

    /**
     * @return streams with the node open.
     */
    int openStreams()
    {
        int n = 0;
        for (final Stream s : streams)
        {
            n += null != s ? 1 : 0;
        }
        return n;
    }

    @Override
    public void attach(final Host deviceHost)
    {
        this.host = deviceHost;
    }

    @Override
    public String deviceName()
    {
        return card;
    }

    private Stream stream(final int streamId)
    {
        for (final Stream s : streams)
        {
            if (null != s && s.id == streamId)
            {
                return s;
            }
        }
        return null;
    }

    @Override
    public int createStream(final int streamId, final int inMemType, final int outMemType, final int codedFormat)
    {
        int slot = -1;
        for (int i = 0; i < streams.length && slot < 0; i++)
        {
            slot = null == streams[i] ? i : -1;
        }
        if (slot < 0)
        {
            return VideoDevice.RESP_ERR_OUT_OF_MEMORY;
        }
        final int fd = node.open();
        if (fd < 0)
        {
            LOG.log(Level.WARNING, "v4l2 decoder: stream " + Integer.toUnsignedString(streamId) + ": open " + node
                + " failed: " + Errno.name(-fd));
            return VideoDevice.RESP_ERR_INVALID_OPERATION;
        }
        final Stream s = new Stream(streamId, fd);
        s.arg.fill((byte)0);
        s.arg.set(I32, 0, BUF_TYPE_VIDEO_OUTPUT);
        s.arg.set(I32, 16, pixelFormat(codedFormat));
        final int rc = node.ioctl(fd, VIDIOC_S_FMT, s.arg);
        if (rc < 0)
        {
            LOG.log(Level.WARNING, "v4l2 decoder: stream " + Integer.toUnsignedString(streamId) + ": " + node
                + " refused coded format 0x" + Integer.toHexString(codedFormat) + " (VIDIOC_S_FMT: " + Errno.name(-rc)
                + ")");
            node.close(fd);
            s.arena.close();
            return VideoDevice.RESP_ERR_INVALID_PARAMETER;
        }
        streams[slot] = s;
        if (null != host)
        {
            s.watch = host.watcher().watch(fd, () -> dequeue(s));
        }
        if (null == s.watch)
        {
            LOG.log(Level.WARNING, "v4l2 decoder: stream " + Integer.toUnsignedString(streamId) + ": " + node
                + " cannot be watched here: frames are dequeued only when the driver queues a buffer");
        }
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public void destroyStream(final int streamId)
    {
        for (int i = 0; i < streams.length; i++)
        {
            final Stream s = streams[i];
            if (null != s && s.id == streamId)
            {
                streams[i] = null;
                close(s);
            }
        }
    }

    private void close(final Stream s)
    {
        if (null != s.watch)
        {
            s.watch.close();
        }
        node.close(s.fd);
        free(s.input);
        free(s.output);
        s.arena.close();
    }

    private void free(final Queue q)
    {
        if (null != q.arena)
        {
            q.arena.close();
            q.arena = null;
        }
        budget.release(q.reserved);
        q.reserved = 0;
        java.util.Arrays.fill(q.buffers, null);
        q.unqueueAll();
        q.granted = -1;
        q.streaming = false;
    }

    @Override
    public int drain(final int streamId)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.drain(streamId);
        }
        if (decoderCommand(s, DEC_CMD_STOP) < 0)
        {
            return VideoDevice.RESP_ERR_INVALID_OPERATION;
        }
        s.stopped = true;
        return VideoDevice.RESP_OK_NODATA;
    }

    private int decoderCommand(final Stream s, final int command)
    {
        s.arg.asSlice(0, 72).fill((byte)0);
        s.arg.set(I32, 0, command);
        final int rc = node.ioctl(s.fd, VIDIOC_DECODER_CMD, s.arg);
        if (rc < 0)
        {
            s.fail(command == DEC_CMD_STOP ? "VIDIOC_DECODER_CMD STOP" : "VIDIOC_DECODER_CMD START", -rc);
        }
        return rc;
    }

    @Override
    public int createResource(final int streamId, final int queueType, final int resourceId,
        final VideoResource pages)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.createResource(streamId, queueType, resourceId, pages);
        }
        final Queue q = s.queue(queueType);
        if (q.resources == VideoDevice.MAX_RESOURCES)
        {
            return VideoDevice.RESP_ERR_OUT_OF_MEMORY;
        }
        q.pages[q.resources] = pages;
        q.resourceIds[q.resources++] = resourceId;
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int destroyResources(final int streamId, final int queueType)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.destroyResources(streamId, queueType);
        }
        final Queue q = s.queue(queueType);
        streamOff(s, q);
        if (q.granted >= 0)
        {
            s.arg.asSlice(0, 20).fill((byte)0);
            s.arg.set(I32, 4, q.v4l2Type);
            s.arg.set(I32, 8, MEMORY_USERPTR);
            final int rc = node.ioctl(s.fd, VIDIOC_REQBUFS, s.arg);
            if (rc < 0)
            {
                s.fail("VIDIOC_REQBUFS 0", -rc);
            }
        }
        free(q);
        java.util.Arrays.fill(q.pages, null);
        q.resources = 0;
        return VideoDevice.RESP_OK_NODATA;
    }

    private void streamOff(final Stream s, final Queue q)
    {
        s.arg.set(I32, 0, q.v4l2Type);
        final int rc = node.ioctl(s.fd, VIDIOC_STREAMOFF, s.arg.asSlice(0, 4));
        if (rc < 0)
        {
            s.fail("VIDIOC_STREAMOFF", -rc);
        }
        q.streaming = false;
        q.unqueueAll();
    }

    @Override
    public int clearQueue(final int streamId, final int queueType)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.clearQueue(streamId, queueType);
        }
        streamOff(s, s.queue(queueType));
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int setParams(final int streamId, final int queueType, final Command params)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.setParams(streamId, queueType, params);
        }
        final int pixelFormat = pixelFormat(params.param(4));
        if (pixelFormat == 0)
        {
            s.fail("SET_PARAMS of format 0x" + Integer.toHexString(params.param(4)) + " (not mapped to V4L2)",
                Errno.EINVAL);
            return VideoDevice.RESP_ERR_INVALID_PARAMETER;
        }
        final Queue q = s.queue(queueType);
        s.arg.fill((byte)0);
        s.arg.set(I32, 0, q.v4l2Type);
        s.arg.set(I32, 8, params.param(8));
        s.arg.set(I32, 12, params.param(12));
        s.arg.set(I32, 16, pixelFormat);
        s.arg.set(I32, 28, params.param(48));
        final int rc = node.ioctl(s.fd, VIDIOC_S_FMT, s.arg);
        if (rc < 0)
        {
            s.fail("VIDIOC_S_FMT of SET_PARAMS", -rc);
            return -rc == Errno.EINVAL ? VideoDevice.RESP_ERR_INVALID_PARAMETER
                : VideoDevice.RESP_ERR_INVALID_OPERATION;
        }
        return VideoDevice.RESP_OK_NODATA;
    }

    @Override
    public int queryCapability(final int queueType, final Response response)
    {
        final int which = queueType == VideoDevice.QUEUE_TYPE_INPUT ? 0 : 1;
        final int[] list = formats[which];
        // Every coded format decodes to every raw format: each descriptor's mask names all of the other queue's.
        final long mask = formats[1 - which].length == 0 ? 0 : -1L >>> (64 - formats[1 - which].length);
        response.queryCapability(VideoDevice.RESP_OK_QUERY_CAPABILITY, list.length);
        int at = 16;
        for (int i = 0; i < list.length; i++)
        {
            final int[] size = sizes[which][i];
            at = response.formatDesc(at, mask, list[i], null == size ? 0 : 1);
            if (null != size)
            {
                at = response.formatFrame(at, size[0], size[1], size[2], size[3], size[4], size[5]);
            }
        }
        return at;
    }

    @Override
    public int queryControl(final int control, final Response response)
    {
        return rest.queryControl(control, response);
    }

    @Override
    public int getParams(final int streamId, final int queueType, final Response response)
    {
        final Stream s = stream(streamId);
        if (null == s)
        {
            return rest.getParams(streamId, queueType, response);
        }
        final Queue q = s.queue(queueType);
        s.arg.fill((byte)0);
        s.arg.set(I32, 0, q.v4l2Type);
        final int rc = node.ioctl(s.fd, VIDIOC_G_FMT, s.arg);
        if (rc < 0)
        {
            s.fail("VIDIOC_G_FMT of GET_PARAMS", -rc);
            return response.header(VideoDevice.RESP_ERR_INVALID_OPERATION);
        }
        final int width = s.arg.get(I32, 8);
        final int height = s.arg.get(I32, 12);
        final int size = response.params(queueType);
        response.param(4, virtioFormat(s.arg.get(I32, 16)));
        response.param(8, width);
        response.param(12, height);
        response.param(16, 1);
        response.param(20, VideoDevice.MAX_RESOURCES);
        response.param(32, width);
        response.param(36, height);
        response.param(44, 1);
        response.param(48, s.arg.get(I32, 28));
        response.param(52, s.arg.get(I32, 24));
        return size;
    }

    @Override
    public int queueResource(final int streamId, final int queueType, final int resourceId, final long timestamp,
        final int[] dataSizes, final int numDataSizes, final Response response)
    {
        final Stream s = stream(streamId);
        if (null == s || null == host)
        {
            return rest.queueResource(streamId, queueType, resourceId, timestamp, dataSizes, numDataSizes,
                response);
        }
        final Queue q = s.queue(queueType);
        final int index = q.indexOf(resourceId);
        if (index < 0)
        {
            return response.header(VideoDevice.RESP_ERR_INVALID_RESOURCE_ID);
        }
        if (q.granted < 0 && !requestBuffers(s, q))
        {
            return response.header(VideoDevice.RESP_ERR_INVALID_OPERATION);
        }
        if (index >= q.granted || null == q.buffers[index])
        {
            s.fail("queueing resource " + Integer.toUnsignedString(resourceId) + " (V4L2 buffer " + index + " of "
                + q.granted + " granted)", Errno.EINVAL);
            return response.header(VideoDevice.RESP_ERR_INVALID_PARAMETER);
        }
        final MemorySegment hostBuffer = q.buffers[index];
        int bytesused = 0;
        if (q == s.input)
        {
            bytesused = (int)Math.min(Integer.toUnsignedLong(numDataSizes > 0 ? dataSizes[0] : 0),
                hostBuffer.byteSize());
            if (!copy(host.memory(), q.pages[index], hostBuffer, bytesused, true))
            {
                return response.header(VideoDevice.RESP_ERR_INVALID_PARAMETER);
            }
            if (s.stopped)
            {
                // A drain ended the previous sequence: resume decoding.
                decoderCommand(s, DEC_CMD_START);
                s.stopped = false;
            }
        }
        else
        {
            // The frame is copied when the node gives it back: the guest memory stays mapped until then.
            final GuestMemory memory = host.memory();
            if (null == memory || !memory.tryRetain())
            {
                return response.header(VideoDevice.RESP_ERR_INVALID_OPERATION);
            }
            q.memory[index] = memory;
        }
        final MemorySegment b = s.buf;
        b.fill((byte)0);
        b.set(I32, 0, index);
        b.set(I32, 4, q.v4l2Type);
        b.set(I32, 8, bytesused);
        b.set(I64, 24, Long.divideUnsigned(timestamp, 1_000_000_000L));
        b.set(I64, 32, Long.remainderUnsigned(timestamp, 1_000_000_000L) / 1000);
        b.set(I32, 60, MEMORY_USERPTR);
        b.set(I64, 64, hostBuffer.address());
        b.set(I32, 72, (int)hostBuffer.byteSize());
        int rc = node.ioctl(s.fd, VIDIOC_QBUF, b);
        if (rc < 0)
        {
            s.fail("VIDIOC_QBUF of resource " + Integer.toUnsignedString(resourceId), -rc);
            q.unqueue(index);
            return response.header(-rc == Errno.EINVAL ? VideoDevice.RESP_ERR_INVALID_PARAMETER
                : VideoDevice.RESP_ERR_INVALID_OPERATION);
        }
        q.queued[index] = true;
        if (!q.streaming)
        {
            s.arg.set(I32, 0, q.v4l2Type);
            rc = node.ioctl(s.fd, VIDIOC_STREAMON, s.arg.asSlice(0, 4));
            if (rc < 0)
            {
                // The buffer stays queued in V4L2: it comes back with the queue's STREAMOFF (clear, destroy).
                s.fail("VIDIOC_STREAMON", -rc);
            }
            q.streaming = rc == 0;
        }
        // A buffer may be done already (V4L2 signals only the CAPTURE side as readable).
        dequeue(s);
        return HELD;
    }

    private boolean requestBuffers(final Stream s, final Queue q)
    {
        if (q.resources == 0)
        {
            return false;
        }
        s.arg.asSlice(0, 20).fill((byte)0);
        s.arg.set(I32, 0, q.resources);
        s.arg.set(I32, 4, q.v4l2Type);
        s.arg.set(I32, 8, MEMORY_USERPTR);
        final int rc = node.ioctl(s.fd, VIDIOC_REQBUFS, s.arg);
        if (rc < 0)
        {
            s.fail("VIDIOC_REQBUFS of " + q.resources + " USERPTR buffers", -rc);
            return false;
        }
        q.granted = Math.min(Math.max(0, s.arg.get(I32, 0)), q.resources);
        q.arena = Arena.ofShared();
        for (int i = 0; i < q.granted; i++)
        {
            final long size = Math.min(q.pages[i].size(), MAX_BUFFER_SIZE);
            if (!budget.tryReserve(size))
            {
                // Over the budget: this buffer and the later ones are refused when queued.
                s.fail("host buffers of " + size + " bytes for resource " + Integer.toUnsignedString(
                    q.resourceIds[i]) + " beyond the budget (" + budget.used() + " of " + budget.limit()
                    + " bytes in use)", Errno.ENOMEM);
                q.granted = i;
                break;
            }
            q.reserved += size;
            q.buffers[i] = q.arena.allocate(size, 4096);
        }
        return true;
    }

    /**
     * Copies {@code n} bytes between a resource's guest pages and its host buffer, through {@code memory}.
     *
     * @return false when the pages are no longer guest RAM (logged).
     */
    private static boolean copy(final GuestMemory memory, final VideoResource pages, final MemorySegment hostBuffer,
        final long n, final boolean fromGuest)
    {
        if (null == memory)
        {
            return false;
        }
        long done = 0;
        try
        {
            for (int e = 0; e < pages.addresses().length && done < n; e++)
            {
                final long length = Math.min(Integer.toUnsignedLong(pages.lengths()[e]), n - done);
                if (fromGuest)
                {
                    memory.read(pages.addresses()[e], hostBuffer, done, length);
                }
                else
                {
                    memory.write(pages.addresses()[e], hostBuffer, done, length);
                }
                done += length;
            }
        }
        catch (final GuestMemoryException | RuntimeException e)
        {
            LOG.log(Level.WARNING, "v4l2 decoder: a resource's pages are no longer guest RAM: " + e.getMessage());
            return false;
        }
        return true;
    }

    /**
     * Dequeues every done buffer of both queues without blocking and reports them (the node's watch and after each
     * RESOURCE_QUEUE).
     */
    private void dequeue(final Stream s)
    {
        dequeue(s, s.input);
        dequeue(s, s.output);
    }

    private void dequeue(final Stream s, final Queue q)
    {
        final MemorySegment b = s.buf;
        while (q.streaming)
        {
            b.fill((byte)0);
            b.set(I32, 4, q.v4l2Type);
            b.set(I32, 60, MEMORY_USERPTR);
            final int rc = node.ioctl(s.fd, VIDIOC_DQBUF, b);
            if (rc == -Errno.EAGAIN || rc == -Errno.EPIPE)
            {
                return;
            }
            if (rc < 0)
            {
                // The queue is in error (EIO: the device went away): stop watching it, or the readable node would
                // call us again at once; its buffers come back with QUEUE_CLEAR or STREAM_DESTROY.
                s.fail((q == s.input ? "VIDIOC_DQBUF OUTPUT" : "VIDIOC_DQBUF CAPTURE") + "; no longer watched", -rc);
                if (null != s.watch)
                {
                    s.watch.close();
                }
                return;
            }
            final int index = b.get(I32, 0);
            if (index < 0 || index >= q.granted || !q.queued[index])
            {
                s.fail("VIDIOC_DQBUF gave buffer " + index + ", which is not queued;", Errno.EINVAL);
                continue;
            }
            final GuestMemory memory = q.memory[index];
            q.memory[index] = null;
            q.queued[index] = false;
            final int v4l2Flags = b.get(I32, 12);
            final long timestamp = b.get(I64, 24) * 1_000_000_000L + b.get(I64, 32) * 1000;
            int flags = (v4l2Flags & BUF_FLAG_ERROR) != 0 ? VideoDevice.BUFFER_FLAG_ERR : 0;
            flags |= (v4l2Flags & BUF_FLAG_LAST) != 0 ? VideoDevice.BUFFER_FLAG_EOS : 0;
            flags |= (v4l2Flags & BUF_FLAG_KEYFRAME) != 0 ? 0x4 : 0;
            flags |= (v4l2Flags & BUF_FLAG_PFRAME) != 0 ? 0x8 : 0;
            flags |= (v4l2Flags & BUF_FLAG_BFRAME) != 0 ? 0x10 : 0;
            int size = 0;
            if (q == s.output)
            {
                size = (int)Math.min(Integer.toUnsignedLong(b.get(I32, 8)),
                    Math.min(q.buffers[index].byteSize(), q.pages[index].size()));
                if (!copy(memory, q.pages[index], q.buffers[index], size, false))
                {
                    flags |= VideoDevice.BUFFER_FLAG_ERR;
                    size = 0;
                }
            }
            if (null != memory)
            {
                memory.release();
            }
            host.completed(s.id, q.queueType, q.resourceIds[index], flags, timestamp, size);
        }
    }

    @Override
    public void close()
    {
        for (int i = 0; i < streams.length; i++)
        {
            if (null != streams[i])
            {
                close(streams[i]);
                streams[i] = null;
            }
        }
    }
}
