package io.jvhost.device.media;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

import io.jvhost.device.media.wire.Capability;
import io.jvhost.memory.GuestMemory;
import io.jvhost.os.Ioctl;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.virtqueue.ChainReader;

/**
 * A host V4L2 device ({@code /dev/videoN}) shown to the guest (rust-vmm's {@code v4l2-proxy}): each session opens the
 * node anew, and the ioctls whose payload is a plain structure are passed to the host driver as they are, through
 * {@code ioctl(2)} with the structure in native memory: QUERYCAP, ENUM_FMT, G/S/TRY_FMT, ENUM_FRAMESIZES,
 * ENUM_FRAMEINTERVALS, G/S_PARM, ENUMINPUT, G/S_INPUT. The host's errno is the guest's answer.
 * <p>
 * Not passed on: the buffer and streaming ioctls (REQBUFS, QUERYBUF, QBUF, STREAMON, STREAMOFF) are {@code ENOTTY}.
 * Proxying them needs the guest's USERPTR memory handed to the host driver and the host's dequeues watched; that is
 * not written, and this machine has no V4L2 device to prove it against.
 * <p>
 * At start the node must open and answer VIDIOC_QUERYCAP (its device_caps and card name fill the config space):
 * a missing node fails with ENOENT, a node that is not V4L2 (e.g. {@code /dev/null}) with ENOTTY, both named in the
 * message.
 */
public final class V4l2Proxy implements MediaBackend
{
    public static final int MAX_SESSIONS = 16;

    private static final int O_RDWR = 2;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_CLOEXEC = 0x80000;
    private static final System.Logger LOG = System.getLogger(V4l2Proxy.class.getName());

    private final Path path;
    private final int deviceCaps;
    private final String card;
    private final int[] fds = new int[MAX_SESSIONS];
    private final Arena arena = Arena.ofShared();
    private final MemorySegment nativePayload = arena.allocate(V4l2.MAX_PAYLOAD, 8);
    private final Ioctl ioctl = new Ioctl();

    /**
     * Opens {@code path} and asks it for its capabilities.
     *
     * @throws NativeException naming the call, the path and the errno when the node does not open or is not V4L2.
     */
    public V4l2Proxy(final Path path) throws NativeException
    {
        this.path = path;
        Arrays.fill(fds, -1);
        final int fd = LibC.open(path.toString(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        try
        {
            final int rc = ioctl.call(fd, V4l2.request(V4l2.QUERYCAP), nativePayload);
            if (rc < 0)
            {
                throw new NativeException("ioctl VIDIOC_QUERYCAP", -rc, "path=" + path
                    + (-rc == MediaDevice.ENOTTY ? " (not a V4L2 device)" : ""));
            }
            final Capability cap = new Capability();
            cap.wrap(nativePayload);
            deviceCaps = (cap.capabilities() & V4l2.CAP_DEVICE_CAPS) != 0 ? cap.deviceCaps() : cap.capabilities();
            card = cap.card();
        }
        finally
        {
            LibC.closeQuietly(fd);
        }
    }

    /**
     * A proxy of {@code path} with the given capabilities, without asking the node (tests: this machine has no V4L2
     * node, so the per-session paths are exercised against nodes that are not V4L2 or are missing).
     */
    V4l2Proxy(final Path path, final int deviceCaps, final String card)
    {
        this.path = path;
        this.deviceCaps = deviceCaps;
        this.card = card;
        Arrays.fill(fds, -1);
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
    public int open(final int slot)
    {
        try
        {
            fds[slot] = LibC.open(path.toString(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
            return 0;
        }
        catch (final NativeException e)
        {
            LOG.log(Level.WARNING, "v4l2 proxy: " + e.getMessage());
            return e.errno();
        }
    }

    @Override
    public void close(final int slot)
    {
        LibC.closeQuietly(fds[slot]);
        fds[slot] = -1;
    }

    @Override
    public int ioctl(final int slot, final int code, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        switch (code)
        {
            case V4l2.REQBUFS, V4l2.QUERYBUF, V4l2.QBUF, V4l2.STREAMON, V4l2.STREAMOFF:
                return MediaDevice.ENOTTY;
            default:
                break;
        }
        final int size = V4l2.payloadSize(code);
        MemorySegment.copy(payload, 0, nativePayload, 0, size);
        final int rc = ioctl.call(fds[slot], V4l2.request(code), nativePayload);
        if (rc < 0)
        {
            return -rc;
        }
        MemorySegment.copy(nativePayload, 0, payload, 0, size);
        return 0;
    }

    @Override
    public int nextDequeued(final MemorySegment buffer)
    {
        return -1;
    }

    @Override
    public boolean hasDequeued()
    {
        return false;
    }

    @Override
    public void close()
    {
        for (int i = 0; i < fds.length; i++)
        {
            if (fds[i] >= 0)
            {
                close(i);
            }
        }
        arena.close();
    }

    @Override
    public String toString()
    {
        return "v4l2 proxy of " + path;
    }
}
