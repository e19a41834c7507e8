package io.jvhost.device.media;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

import io.jvhost.device.FdWatch;
import io.jvhost.device.FdWatcher;
import io.jvhost.device.media.wire.Capability;
import io.jvhost.device.media.wire.PixFormat;
import io.jvhost.device.media.wire.RequestBuffers;
import io.jvhost.device.media.wire.V4l2Buffer;
import io.jvhost.memory.GuestMemory;
import io.jvhost.memory.GuestMemoryException;
import io.jvhost.os.DeviceNode;
import io.jvhost.os.Errno;
import io.jvhost.os.NativeException;
import io.jvhost.virtqueue.ChainReader;

/**
 * A host V4L2 capture device ({@code /dev/videoN}) shown to the guest (rust-vmm's {@code v4l2-proxy}): each session
 * opens the node anew (non-blocking). The ioctls whose payload is a plain structure are passed to the host driver as
 * they are, through {@code ioctl(2)} with the structure in native memory: QUERYCAP, ENUM_FMT, G/S/TRY_FMT,
 * ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS, G/S_PARM, ENUMINPUT, G/S_INPUT. The host's errno is the guest's answer.
 * <p>
 * <b>Streaming</b> (single-planar VIDEO_CAPTURE, the guest's USERPTR buffers): the guest's buffers are guest pages
 * the host driver cannot address, so each V4L2 buffer has a host bounce buffer the driver captures into, allocated
 * once at REQBUFS ({@code sizeimage} of the host's G_FMT, page-rounded; at most {@value #MAX_BUFFERS} buffers of at
 * most {@value #MAX_BUFFER_BYTES} bytes each):
 * <ul>
 *   <li>REQBUFS (USERPTR only; MMAP needs vhost-user SHMEM_MAP: EINVAL) goes to the host with USERPTR memory; the
 *       host's adjusted count is the guest's answer, its capabilities without MMAP and DMABUF.</li>
 *   <li>QBUF checks the guest's buffer (type, memory, index, not queued, {@code length >= sizeimage}, SG entries that
 *       cover it, each guest RAM: EINVAL/EFAULT), then queues the bounce buffer on the host.</li>
 *   <li>While streaming, the host descriptor is watched on the device's worker ({@link FdWatcher}): when it is
 *       readable, every finished buffer is dequeued (VIDIOC_DQBUF until EAGAIN, never blocking), its
 *       {@code bytesused} copied from the bounce buffer into the guest's pages, and it becomes a DQBUF event with the
 *       host's sequence, timestamp and flags. A guest page that stopped being RAM gives V4L2_BUF_FLAG_ERROR and
 *       bytesused 0. A host DQBUF error other than EAGAIN (a queue in error, a device gone) stops the watch until the
 *       next STREAMON, one log line.</li>
 *   <li>QUERYBUF answers the host's state with the guest's userptr and length; STREAMOFF returns every buffer
 *       (pending events dropped), as V4L2 does.</li>
 * </ul>
 * A queued buffer holds a reference to the guest memory snapshot it was queued with ({@link GuestMemory#tryRetain}),
 * released when it is copied or returned, so a new memory table never unmaps pages under a pending copy.
 * <p>
 * Allocation: a session's tables at its slot's first OPEN, bounce buffers at REQBUFS, the watch at STREAMON; QBUF,
 * dequeues, copies and events allocate nothing.
 * <p>
 * At start the node must open and answer VIDIOC_QUERYCAP (its device_caps and card name fill the config space):
 * a missing node fails with ENOENT, a node that is not V4L2 (e.g. {@code /dev/null}) with ENOTTY, both named in the
 * message.
 */
public final class V4l2Proxy implements MediaBackend
{
    public static final int MAX_SESSIONS = 16;
    public static final int MAX_BUFFERS = 32;
    public static final int MAX_SG = 1024;
    /** The largest host buffer (a 4096x4096 frame of 4 bytes per pixel). */
    public static final int MAX_BUFFER_BYTES = 64 << 20;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(V4l2Proxy.class.getName());
    private static final long PAGE = 4096;
    private static final byte FREE = 0;
    /** Queued on the host (captured into its bounce buffer). */
    private static final byte QUEUED = 1;
    /** Dequeued from the host and copied, its DQBUF event not yet sent. */
    private static final byte DONE = 2;

    private final DeviceNode node;
    private final int deviceCaps;
    private final String card;
    private final Session[] sessions = new Session[MAX_SESSIONS];
    private final Arena arena = Arena.ofShared();
    private final MemorySegment nativePayload = arena.allocate(V4l2.MAX_PAYLOAD, 8);
    private final MemorySegment nativeBuffer = arena.allocate(V4l2Buffer.SIZE, 8);
    private final V4l2Buffer guestBuf = new V4l2Buffer();
    private final V4l2Buffer hostBuf = new V4l2Buffer();
    private final V4l2Buffer out = new V4l2Buffer();
    private final RequestBuffers req = new RequestBuffers();
    private final PixFormat fmt = new PixFormat();
    private volatile FdWatcher watcher;
    /** Copied buffers, not yet sent, per session. */
    private final DoneBuffers done = new DoneBuffers(MAX_SESSIONS, MAX_BUFFERS);

    /** One open of the host node and its buffers. */
    private final class Session
    {
        final int slot;
        final Runnable onReadable;
        int fd = -1;
        FdWatch watch;
        boolean streaming;
        /** The host failed a DQBUF: no watch until the next STREAMON. */
        boolean failed;
        int count;
        int sizeimage;
        long bounceBytes;
        Arena buffers;
        final MemorySegment[] bounce = new MemorySegment[MAX_BUFFERS];
        final byte[] state = new byte[MAX_BUFFERS];
        final long[] userptr = new long[MAX_BUFFERS];
        final int[] length = new int[MAX_BUFFERS];
        final GuestMemory[] memory = new GuestMemory[MAX_BUFFERS];
        /** Each buffer's guest pages, from its last QBUF. */
        final UserptrPages pages = new UserptrPages(MAX_BUFFERS, MAX_SG);

        Session(final int slot)
        {
            this.slot = slot;
            this.onReadable = () -> dequeue(this);
        }
    }

    /**
     * Opens {@code path} and asks it for its capabilities.
     *
     * @throws NativeException naming the call, the path and the errno when the node does not open or is not V4L2.
     */
    public V4l2Proxy(final Path path) throws NativeException
    {
        this(DeviceNode.host(path));
    }

    /**
     * A proxy of {@code node}, which must open and answer VIDIOC_QUERYCAP.
     *
     * @throws NativeException naming the call, the node and the errno when it does not.
     */
    public V4l2Proxy(final DeviceNode node) throws NativeException
    {
        this.node = node;
        final int fd = node.open();
        if (fd < 0)
        {
            arena.close();
            throw new NativeException("open", -fd, "path=" + node);
        }
        try
        {
            final int rc = node.ioctl(fd, V4l2.request(V4l2.QUERYCAP), nativePayload);
            if (rc < 0)
            {
                arena.close();
                throw new NativeException("ioctl VIDIOC_QUERYCAP", -rc, "path=" + node
                    + (-rc == MediaDevice.ENOTTY ? " (not a V4L2 device)" : ""));
            }
            final Capability cap = new Capability();
            cap.wrap(nativePayload);
            deviceCaps = (cap.capabilities() & V4l2.CAP_DEVICE_CAPS) != 0 ? cap.deviceCaps() : cap.capabilities();
            card = cap.card();
        }
        finally
        {
            node.close(fd);
        }
    }

    /**
     * A proxy of {@code node} with the given capabilities, without asking it (tests of nodes that are not V4L2).
     */
    V4l2Proxy(final DeviceNode node, final int deviceCaps, final String card)
    {
        this.node = node;
        this.deviceCaps = deviceCaps;
        this.card = card;
    }

    @Override
    public int deviceCaps()
    {
        return deviceCaps;
    }

    @Override
    public String card()
    {
        return card;
    }

    @Override
    public int maxSessions()
    {
        return MAX_SESSIONS;
    }

    @Override
    public void attach(final FdWatcher fdWatcher)
    {
        this.watcher = fdWatcher;
    }

    @Override
    public int open(final int slot)
    {
        final int fd = node.open();
        if (fd < 0)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: open of " + node + " failed: " + Errno.name(-fd));
            return -fd;
        }
        if (null == sessions[slot])
        {
            sessions[slot] = new Session(slot);
        }
        sessions[slot].fd = fd;
        return 0;
    }

    @Override
    public void close(final int slot)
    {
        final Session s = sessions[slot];
        if (null == s || s.fd < 0)
        {
            return;
        }
        stopWatch(s);
        node.close(s.fd);
        s.fd = -1;
        s.streaming = false;
        s.failed = false;
        releaseBuffers(s);
    }

    @Override
    public int ioctl(final int slot, final int code, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        final Session s = sessions[slot];
        return switch (code)
        {
            case V4l2.REQBUFS -> requestBuffers(s, payload);
            case V4l2.QUERYBUF -> queryBuffer(s, payload);
            case V4l2.QBUF -> queueBuffer(s, payload, rest, memory);
            case V4l2.STREAMON -> streamOn(s, payload);
            case V4l2.STREAMOFF -> streamOff(s, payload);
            default -> passThrough(s, code, payload);
        };
    }

    private int passThrough(final Session s, final int code, final MemorySegment payload)
    {
        final int size = V4l2.payloadSize(code);
        MemorySegment.copy(payload, 0, nativePayload, 0, size);
        final int rc = node.ioctl(s.fd, V4l2.request(code), nativePayload);
        if (rc < 0)
        {
            return -rc;
        }
        MemorySegment.copy(nativePayload, 0, payload, 0, size);
        return 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // buffers

    private int requestBuffers(final Session s, final MemorySegment payload)
    {
        req.wrap(payload);
        if (req.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || req.memory() != V4l2.MEMORY_USERPTR)
        {
            return Errno.EINVAL;
        }
        MemorySegment.copy(payload, 0, nativePayload, 0, RequestBuffers.SIZE);
        req.wrap(nativePayload);
        final int asked = (int)Math.min(Integer.toUnsignedLong(req.count()), MAX_BUFFERS);
        nativePayload.set(LE32, 0, asked);
        int rc = node.ioctl(s.fd, V4l2.request(V4l2.REQBUFS), nativePayload);
        if (rc < 0)
        {
            return -rc;
        }
        final long granted = Integer.toUnsignedLong(req.count());
        final int capabilities = nativePayload.get(LE32, 12);
        releaseBuffers(s);
        if (granted == 0)
        {
            answerRequest(payload, 0, capabilities);
            return 0;
        }
        if (granted > MAX_BUFFERS)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: " + node + " granted " + granted + " buffers, more than "
                + MAX_BUFFERS + "; freed");
            freeHostBuffers(s);
            return Errno.ENOMEM;
        }
        fmt.wrap(nativePayload);
        fmt.set(V4l2.BUF_TYPE_VIDEO_CAPTURE, 0, 0, 0, 0, 0, 0, 0);
        rc = node.ioctl(s.fd, V4l2.request(V4l2.G_FMT), nativePayload);
        final long sizeimage = Integer.toUnsignedLong(nativePayload.get(LE32, 28));
        if (rc < 0 || sizeimage == 0 || sizeimage > MAX_BUFFER_BYTES)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: " + node + ": no buffers of sizeimage " + sizeimage
                + (rc < 0 ? " (VIDIOC_G_FMT failed: " + Errno.name(-rc) + ")" : "") + "; freed");
            freeHostBuffers(s);
            return rc < 0 ? -rc : Errno.ENOMEM;
        }
        s.sizeimage = (int)sizeimage;
        s.bounceBytes = (sizeimage + PAGE - 1) & -PAGE;
        s.buffers = Arena.ofShared();
        final MemorySegment all = s.buffers.allocate(s.bounceBytes * granted, PAGE);
        for (int i = 0; i < granted; i++)
        {
            s.bounce[i] = all.asSlice(i * s.bounceBytes, s.bounceBytes);
        }
        s.count = (int)granted;
        answerRequest(payload, s.count, capabilities);
        return 0;
    }

    private void answerRequest(final MemorySegment payload, final int count, final int capabilities)
    {
        req.wrap(payload);
        req.answer(count, capabilities & ~(V4l2.BUF_CAP_SUPPORTS_MMAP | V4l2.BUF_CAP_SUPPORTS_DMABUF));
    }

    /** REQBUFS 0 on the host, after a grant the proxy cannot use. */
    private void freeHostBuffers(final Session s)
    {
        nativePayload.fill((byte)0);
        nativePayload.set(LE32, 4, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        nativePayload.set(LE32, 8, V4l2.MEMORY_USERPTR);
        node.ioctl(s.fd, V4l2.request(V4l2.REQBUFS), nativePayload);
    }

    /** Forgets the session's buffers and pending events and frees its bounce buffers. */
    private void releaseBuffers(final Session s)
    {
        done.clear(s.slot);
        for (int i = 0; i < MAX_BUFFERS; i++)
        {
            s.state[i] = FREE;
            s.bounce[i] = null;
            dropMemory(s, i);
            s.userptr[i] = 0;
            s.length[i] = 0;
        }
        s.count = 0;
        if (null != s.buffers)
        {
            s.buffers.close();
            s.buffers = null;
        }
    }

    private int queryBuffer(final Session s, final MemorySegment payload)
    {
        guestBuf.wrap(payload);
        final int index = guestBuf.index();
        if (guestBuf.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || index < 0 || index >= s.count)
        {
            return Errno.EINVAL;
        }
        hostBuf.wrap(nativeBuffer);
        hostBuf.clear().index(index).type(V4l2.BUF_TYPE_VIDEO_CAPTURE).memory(V4l2.MEMORY_USERPTR);
        final int rc = node.ioctl(s.fd, V4l2.request(V4l2.QUERYBUF), nativeBuffer);
        if (rc < 0)
        {
            return -rc;
        }
        MemorySegment.copy(nativeBuffer, 0, payload, 0, V4l2Buffer.SIZE);
        final int flags = s.state[index] == DONE ? (hostBuf.flags() & ~V4l2.BUF_FLAG_QUEUED) | V4l2.BUF_FLAG_DONE
            : hostBuf.flags();
        guestBuf.flags(flags).memory(V4l2.MEMORY_USERPTR).userptr(s.userptr[index])
            .length(s.length[index] == 0 ? s.sizeimage : s.length[index]);
        return 0;
    }

    private int queueBuffer(final Session s, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        guestBuf.wrap(payload);
        final int index = guestBuf.index();
        if (guestBuf.type() != V4l2.BUF_TYPE_VIDEO_CAPTURE || guestBuf.memory() != V4l2.MEMORY_USERPTR || index < 0
            || index >= s.count || s.state[index] != FREE)
        {
            return Errno.EINVAL;
        }
        final long length = Integer.toUnsignedLong(guestBuf.length());
        if (length < s.sizeimage)
        {
            return Errno.EINVAL;
        }
        final int pages = s.pages.read(index, length, rest, memory);
        if (pages != 0)
        {
            return pages;
        }
        // The guest memory stays mapped while the host holds the buffer (a new memory table does not unmap it).
        if (!memory.tryRetain())
        {
            return Errno.EFAULT;
        }
        hostBuf.wrap(nativeBuffer);
        hostBuf.clear().index(index).type(V4l2.BUF_TYPE_VIDEO_CAPTURE).field(guestBuf.field())
            .memory(V4l2.MEMORY_USERPTR).userptr(s.bounce[index].address()).length((int)s.bounceBytes);
        final int rc = node.ioctl(s.fd, V4l2.request(V4l2.QBUF), nativeBuffer);
        if (rc < 0)
        {
            memory.release();
            return -rc;
        }
        s.userptr[index] = guestBuf.userptr();
        s.length[index] = (int)length;
        s.memory[index] = memory;
        s.state[index] = QUEUED;
        final long guestUserptr = guestBuf.userptr();
        MemorySegment.copy(nativeBuffer, 0, payload, 0, V4l2Buffer.SIZE);
        guestBuf.userptr(guestUserptr).length((int)length);
        if (s.streaming && null == s.watch && !s.failed)
        {
            startWatch(s);
        }
        return 0;
    }

    private int streamOn(final Session s, final MemorySegment payload)
    {
        if (payload.get(LE32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return Errno.EINVAL;
        }
        nativePayload.set(LE32, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        final int rc = node.ioctl(s.fd, V4l2.request(V4l2.STREAMON), nativePayload);
        if (rc < 0)
        {
            return -rc;
        }
        s.streaming = true;
        s.failed = false;
        if (null == s.watch)
        {
            startWatch(s);
        }
        return 0;
    }

    private int streamOff(final Session s, final MemorySegment payload)
    {
        if (payload.get(LE32, 0) != V4l2.BUF_TYPE_VIDEO_CAPTURE)
        {
            return Errno.EINVAL;
        }
        nativePayload.set(LE32, 0, V4l2.BUF_TYPE_VIDEO_CAPTURE);
        final int rc = node.ioctl(s.fd, V4l2.request(V4l2.STREAMOFF), nativePayload);
        if (rc < 0)
        {
            return -rc;
        }
        stopWatch(s);
        s.streaming = false;
        s.failed = false;
        // The host returned every buffer; so does the guest's view (pending events included).
        done.clear(s.slot);
        for (int i = 0; i < MAX_BUFFERS; i++)
        {
            s.state[i] = FREE;
            dropMemory(s, i);
        }
        return 0;
    }

    /** Releases the guest memory buffer {@code index} held while the host had it. */
    private static void dropMemory(final Session s, final int index)
    {
        if (null != s.memory[index])
        {
            s.memory[index].release();
            s.memory[index] = null;
        }
    }

    private void startWatch(final Session s)
    {
        final FdWatcher w = watcher;
        s.watch = null == w ? null : w.watch(s.fd, s.onReadable);
        if (null == s.watch)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: " + node + " cannot be watched here; no frames will be dequeued");
        }
    }

    private static void stopWatch(final Session s)
    {
        if (null != s.watch)
        {
            s.watch.close();
            s.watch = null;
        }
    }

    /**
     * The host descriptor is readable: dequeues every finished buffer (at most one round of the session's buffers),
     * without blocking, and copies each into the guest's pages.
     */
    private void dequeue(final Session s)
    {
        if (s.fd < 0 || !s.streaming)
        {
            return;
        }
        for (int round = 0; round <= s.count; round++)
        {
            hostBuf.wrap(nativeBuffer);
            hostBuf.clear().type(V4l2.BUF_TYPE_VIDEO_CAPTURE).memory(V4l2.MEMORY_USERPTR);
            final int rc = node.ioctl(s.fd, V4l2.REQUEST_DQBUF, nativeBuffer);
            if (rc == -Errno.EAGAIN)
            {
                return;
            }
            if (rc < 0)
            {
                LOG.log(Level.WARNING, "v4l2 proxy: " + node + ": VIDIOC_DQBUF failed with " + Errno.name(-rc)
                    + "; no more frames until the next STREAMON");
                s.failed = true;
                stopWatch(s);
                return;
            }
            final int index = hostBuf.index();
            if (index < 0 || index >= s.count || s.state[index] != QUEUED)
            {
                LOG.log(Level.WARNING, "v4l2 proxy: " + node + " dequeued buffer " + index + ", which the proxy had"
                    + " not queued; ignored");
                continue;
            }
            final long bytes = Math.min(Integer.toUnsignedLong(hostBuf.bytesused()),
                Math.min(s.bounceBytes, Integer.toUnsignedLong(s.length[index])));
            final boolean ok = copyToGuest(s, index, bytes);
            dropMemory(s, index);
            done.add(s.slot, index, hostBuf.sequence(), ok ? (int)bytes : 0,
                (hostBuf.flags() & ~V4l2.BUF_FLAG_QUEUED) | V4l2.BUF_FLAG_DONE | (ok ? 0 : V4l2.BUF_FLAG_ERROR),
                hostBuf.field(), hostBuf.timestampSeconds(), hostBuf.timestampMicros());
            s.state[index] = DONE;
        }
    }

    /**
     * Copies the first {@code bytes} of buffer {@code index}'s bounce buffer into its guest pages.
     *
     * @return false when the guest memory was not RAM any more.
     */
    private boolean copyToGuest(final Session s, final int index, final long bytes)
    {
        final MemorySegment src = s.bounce[index];
        long done = 0;
        try
        {
            for (int e = 0; e < s.pages.count(index) && done < bytes; e++)
            {
                final long n = Math.min(s.pages.length(index, e), bytes - done);
                s.memory[index].write(s.pages.address(index, e), src, done, n);
                done += n;
            }
            return true;
        }
        catch (final GuestMemoryException e)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: buffer " + index + " is not guest RAM any more: " + e.getMessage());
            return false;
        }
    }

    @Override
    public boolean hasDequeued()
    {
        return done.any();
    }

    @Override
    public int nextDequeued(final MemorySegment buffer)
    {
        out.wrap(buffer);
        final int slot = done.take(out);
        if (slot >= 0)
        {
            final Session s = sessions[slot];
            final int index = out.index();
            s.state[index] = FREE;
            out.userptr(s.userptr[index]).length(s.length[index]);
        }
        return slot;
    }

    @Override
    public void close()
    {
        for (int i = 0; i < MAX_SESSIONS; i++)
        {
            close(i);
        }
        arena.close();
    }

    @Override
    public String toString()
    {
        return "v4l2 proxy of " + node;
    }
}
