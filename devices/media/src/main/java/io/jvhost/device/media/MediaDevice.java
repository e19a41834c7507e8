package io.jvhost.device.media;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import io.jvhost.device.ConfigSpace;
import io.jvhost.device.DeviceContext;
import io.jvhost.device.DeviceQueue;
import io.jvhost.device.Refusals;
import io.jvhost.device.VirtioDevice;
import io.jvhost.device.media.wire.V4l2Buffer;
import io.jvhost.os.Errno;
import io.jvhost.virtqueue.ChainAccessException;
import io.jvhost.virtqueue.ChainReader;
import io.jvhost.virtqueue.ChainWriter;
import io.jvhost.virtqueue.DescriptorChain;
import io.jvhost.virtqueue.VirtioFeatures;

/**
 * virtio-media (virtio ID 48): V4L2 over virtio, as rust-vmm's vhost-device-media serves it. Queue 0 (commandq)
 * carries OPEN, CLOSE, IOCTL, MMAP and MUNMAP commands, each answered at once; queue 1 (eventq) holds the driver's
 * buffers for events, taken only when a DQBUF event is due (the implicit VIDIOC_DQBUF of a buffer the back-end has
 * finished with). The config space is {@code struct virtio_media_config}: device_caps, device_type, card[32].
 * <p>
 * Every command starts with {@code struct virtio_media_cmd_header} (le32 cmd, le32 reserved) and every answer with
 * {@code struct virtio_media_resp_header} (le32 status, le32 reserved); status is 0 or a Linux errno:
 * <pre>
 *   OPEN    (8 bytes)                        -> status, le32 session_id, le32 pad     (16 bytes)
 *   CLOSE   hdr, le32 session_id, pad        -> nothing written (no answer is defined)
 *   IOCTL   hdr, le32 session_id, le32 code, payload if _IOW, SG entries of USERPTR buffers
 *                                            -> status, payload if _IOR and status 0
 *   MMAP    hdr, le32 session_id, le32 flags, offset -> status, le64 addr, le64 len (24 bytes)
 *   MUNMAP  hdr, le64 driver_addr            -> status
 *   event   le32 event (1 = DQBUF), le32 session_id, struct v4l2_buffer, struct v4l2_plane[8] (608 bytes)
 * </pre>
 * Errors, as rust's virtio-media runner answers them: a command shorter than its structure EINVAL; an unknown
 * command ENOTTY; an unknown session EINVAL; an ioctl the protocol does not carry (or DQBUF/DQEVENT, replaced by
 * events) ENOTTY; an IOCTL whose payload is shorter than its V4L2 structure, or whose writable part cannot take the
 * answer, EINVAL; OPEN beyond the back-end's session limit EBUSY. MMAP buffers need the vhost-user shared-memory
 * extension (SHMEM_MAP), which jvhost's transport does not have: the back-ends refuse MMAP memory at REQBUFS, so
 * MMAP and MUNMAP name no buffer or mapping and are EINVAL. A chain without room for the 8-byte answer header is
 * returned with nothing written. Refusals are one log line each (the first ten, then every thousandth).
 * <p>
 * A back-end whose buffers finish on the host (the v4l2 proxy) watches its host descriptors on the eventq's worker
 * ({@link MediaBackend#attach}); after each callback that worker sends the events due.
 * <p>
 * Steady state (QBUF, frames, DQBUF events) allocates nothing: commands are read into one scratch buffer, answers and
 * events built in others; sessions live in preallocated slots.
 */
public final class MediaDevice implements VirtioDevice, AutoCloseable
{
    public static final int DEVICE_TYPE = 48;
    public static final int QUEUE_SIZE = 1024;
    public static final int COMMAND_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    public static final int CONFIG_SIZE = 40;

    public static final int CMD_OPEN = 1;
    public static final int CMD_CLOSE = 2;
    public static final int CMD_IOCTL = 3;
    public static final int CMD_MMAP = 4;
    public static final int CMD_MUNMAP = 5;

    public static final int EVT_ERROR = 0;
    public static final int EVT_DQBUF = 1;
    public static final int EVT_EVENT = 2;
    /** {@code struct virtio_media_event_dqbuf}: header, v4l2_buffer, 8 v4l2_planes. */
    public static final int DQBUF_EVENT_SIZE = 8 + V4l2Buffer.SIZE + 8 * 64;
    /** The smallest event buffer the device fills: header and v4l2_buffer (the planes are unused, single-planar). */
    public static final int MIN_EVENT_SIZE = 8 + V4l2Buffer.SIZE;

    public static final int ENOTTY = 25;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(MediaDevice.class.getName());

    private final String name;
    private final MediaBackend backend;
    private final MemorySegment config = MemorySegment.ofArray(new byte[CONFIG_SIZE]);
    private final MemorySegment command = MemorySegment.ofArray(new byte[24]);
    private final MemorySegment payload = MemorySegment.ofArray(new byte[V4l2.MAX_PAYLOAD]);
    private final MemorySegment answer = MemorySegment.ofArray(new byte[24]);
    private final MemorySegment event = MemorySegment.ofArray(new byte[DQBUF_EVENT_SIZE]);
    private final MemorySegment eventBuffer = event.asSlice(8, V4l2Buffer.SIZE);
    /** Session id of each slot; valid where {@link #open} is set. */
    private final int[] sessionIds;
    private final boolean[] open;
    private int nextSessionId;
    private volatile DeviceContext context;
    private final Refusals refusals;
    private long eventsSent;

    public MediaDevice(final String name, final MediaBackend backend)
    {
        this.name = name;
        this.refusals = new Refusals(LOG, name, "command");
        this.backend = backend;
        this.sessionIds = new int[backend.maxSessions()];
        this.open = new boolean[backend.maxSessions()];
        config.set(LE32, 0, backend.deviceCaps());
        config.set(LE32, 4, V4l2.VFL_TYPE_VIDEO);
        final String card = backend.card();
        for (int i = 0; i < Math.min(card.length(), 31); i++)
        {
            config.set(ValueLayout.JAVA_BYTE, 8 + i, (byte)(card.charAt(i) < 0x80 ? card.charAt(i) : '?'));
        }
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public String name()
    {
        return "media";
    }

    @Override
    public int queueCount()
    {
        return 2;
    }

    @Override
    public int maxQueueSize()
    {
        return QUEUE_SIZE;
    }

    @Override
    public long features()
    {
        return VirtioFeatures.BASELINE;
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(final int offset, final MemorySegment dst)
    {
        ConfigSpace.read(config, offset, dst);
    }

    @Override
    public void attach(final DeviceContext deviceContext)
    {
        this.context = deviceContext;
        backend.attach(deviceContext.watcher(EVENT_QUEUE));
    }

    /**
     * @return commands refused with an error status or returned empty.
     */
    public long refusedCommands()
    {
        return refusals.count();
    }

    /**
     * @return DQBUF events delivered.
     */
    public long eventsSent()
    {
        return eventsSent;
    }

    /**
     * @return sessions open now.
     */
    public int openSessions()
    {
        int n = 0;
        for (final boolean o : open)
        {
            n += o ? 1 : 0;
        }
        return n;
    }

    @Override
    public void processQueue(final DeviceQueue queue)
    {
        if (queue.index() == COMMAND_QUEUE)
        {
            DescriptorChain chain;
            while (null != (chain = queue.next()))
            {
                queue.complete(chain, answer(chain));
            }
            if (backend.hasDequeued())
            {
                final DeviceContext ctx = context;
                if (null != ctx)
                {
                    ctx.wake(EVENT_QUEUE);
                }
            }
        }
        else
        {
            sendEvents(queue);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // commandq

    private long answer(final DescriptorChain chain)
    {
        final ChainWriter out = chain.writer();
        final ChainReader in = chain.reader();
        final long readable = in.remaining();
        if (readable < 8)
        {
            refusals.refuse(chain, "has " + readable + " readable bytes, fewer than the 8-byte command header");
            return status(out, chain, Errno.EINVAL);
        }
        final int cmd;
        try
        {
            in.read(command, 0, 8);
            cmd = command.get(LE32, 0);
            return switch (cmd)
            {
                case CMD_OPEN -> open(chain, out);
                case CMD_CLOSE -> close(chain, in);
                case CMD_IOCTL -> ioctl(chain, in, out);
                case CMD_MMAP -> mapping(chain, in, out, 12, "MMAP");
                case CMD_MUNMAP -> mapping(chain, in, out, 8, "MUNMAP");
                default ->
                {
                    refusals.refuse(chain, "has unknown command " + Integer.toUnsignedString(cmd));
                    yield status(out, chain, ENOTTY);
                }
            };
        }
        catch (final ChainAccessException e)
        {
            refusals.refuse(chain, "could not be read or answered: " + e.getMessage());
            return 0;
        }
    }

    private long open(final DescriptorChain chain, final ChainWriter out) throws ChainAccessException
    {
        if (out.remaining() < 16)
        {
            refusals.refuse(chain, "is OPEN with " + out.remaining()
                + " writable bytes, fewer than its 16-byte answer");
            return status(out, chain, Errno.EINVAL);
        }
        int slot = -1;
        for (int i = 0; i < open.length && slot < 0; i++)
        {
            slot = open[i] ? -1 : i;
        }
        if (slot < 0)
        {
            refusals.refuse(chain, "is OPEN with all " + open.length + " sessions open");
            return status(out, chain, Errno.EBUSY);
        }
        final int errno = backend.open(slot);
        if (errno != 0)
        {
            refusals.refuse(chain, "is OPEN, which the back-end refused with " + Errno.name(errno));
            return status(out, chain, errno);
        }
        int id = nextSessionId;
        while (slotOf(id) >= 0)
        {
            id++;
        }
        nextSessionId = id + 1;
        sessionIds[slot] = id;
        open[slot] = true;
        LOG.log(Level.INFO, name + ": session " + Integer.toUnsignedString(id) + " opened");
        answer.fill((byte)0);
        answer.set(LE32, 8, id);
        out.write(answer, 0, 16);
        return 16;
    }

    private long close(final DescriptorChain chain, final ChainReader in) throws ChainAccessException
    {
        if (in.remaining() < 4)
        {
            refusals.refuse(chain, "is CLOSE without a session id");
            return 0;
        }
        in.read(command, 8, 4);
        final int id = command.get(LE32, 8);
        final int slot = slotOf(id);
        if (slot < 0)
        {
            refusals.refuse(chain, "closes session " + Integer.toUnsignedString(id) + ", which is not open");
            return 0;
        }
        backend.close(slot);
        open[slot] = false;
        LOG.log(Level.INFO, name + ": session " + Integer.toUnsignedString(id) + " closed");
        return 0;
    }

    private long ioctl(final DescriptorChain chain, final ChainReader in, final ChainWriter out)
        throws ChainAccessException
    {
        if (in.remaining() < 8)
        {
            refusals.refuse(chain, "is IOCTL of " + (8 + in.remaining()) + " readable bytes, shorter than its 16");
            return status(out, chain, Errno.EINVAL);
        }
        in.read(command, 8, 8);
        final int id = command.get(LE32, 8);
        final int code = command.get(LE32, 12);
        final int slot = slotOf(id);
        if (slot < 0)
        {
            refusals.refuse(chain, "is IOCTL " + Integer.toUnsignedString(code) + " on session "
                + Integer.toUnsignedString(id) + ", which is not open");
            return status(out, chain, Errno.EINVAL);
        }
        final int size = V4l2.payloadSize(code);
        if (size < 0)
        {
            refusals.refuse(chain, "is IOCTL " + Integer.toUnsignedString(code)
                + ", which virtio-media does not carry");
            return status(out, chain, ENOTTY);
        }
        final int dir = V4l2.direction(code);
        if ((dir & V4l2.DIR_WRITE) != 0)
        {
            if (in.remaining() < size)
            {
                refusals.refuse(chain, "is IOCTL " + code + " with a payload of " + in.remaining()
                    + " bytes, shorter than its " + size);
                return status(out, chain, Errno.EINVAL);
            }
            in.read(payload, 0, size);
        }
        else
        {
            for (int i = 0; i < size; i++)
            {
                payload.set(ValueLayout.JAVA_BYTE, i, (byte)0);
            }
        }
        final long answerSize = 8 + ((dir & V4l2.DIR_READ) != 0 ? size : 0);
        if (out.remaining() < answerSize)
        {
            refusals.refuse(chain, "is IOCTL " + code + " with " + out.remaining() + " writable bytes, fewer than its "
                + answerSize + "-byte answer");
            return status(out, chain, Errno.EINVAL);
        }
        final int errno = backend.ioctl(slot, code, payload, in, chain.memory());
        if (errno != 0)
        {
            return status(out, chain, errno);
        }
        answer.set(LE32, 0, 0);
        answer.set(LE32, 4, 0);
        out.write(answer, 0, 8);
        if (answerSize > 8)
        {
            out.write(payload, 0, size);
        }
        return answerSize;
    }

    /**
     * MMAP ({@code rest} = 12: session, flags, offset) and MUNMAP ({@code rest} = 8: driver_addr): no back-end has
     * MMAP buffers, so neither names anything.
     */
    private long mapping(final DescriptorChain chain, final ChainReader in, final ChainWriter out, final int rest,
        final String what) throws ChainAccessException
    {
        if (in.remaining() < rest)
        {
            refusals.refuse(chain, "is " + what + " of " + (8 + in.remaining()) + " readable bytes, shorter than its "
                + (8 + rest));
            return status(out, chain, Errno.EINVAL);
        }
        in.read(command, 8, rest);
        if (rest == 12 && slotOf(command.get(LE32, 8)) < 0)
        {
            refusals.refuse(chain, "is MMAP on session " + Integer.toUnsignedString(command.get(LE32, 8))
                + ", which is not open");
            return status(out, chain, Errno.EINVAL);
        }
        refusals.refuse(chain, "is " + what + ", but no MMAP buffer exists (MMAP memory needs vhost-user SHMEM_MAP)");
        return status(out, chain, Errno.EINVAL);
    }

    private int slotOf(final int id)
    {
        for (int i = 0; i < open.length; i++)
        {
            if (open[i] && sessionIds[i] == id)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * Writes the bare answer header with {@code errno}.
     *
     * @return its size, or 0 when the chain has no room for it.
     */
    private long status(final ChainWriter out, final DescriptorChain chain, final int errno)
    {
        if (out.remaining() < 8)
        {
            refusals.refuse(chain, "has " + out.remaining() + " writable bytes, too few for the 8-byte answer header;"
                + " returned empty");
            return 0;
        }
        answer.set(LE32, 0, errno);
        answer.set(LE32, 4, 0);
        try
        {
            out.write(answer, 0, 8);
        }
        catch (final ChainAccessException e)
        {
            return 0;
        }
        return 8;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // eventq

    private void sendEvents(final DeviceQueue queue)
    {
        while (backend.hasDequeued())
        {
            final DescriptorChain chain = queue.next();
            if (null == chain)
            {
                return;
            }
            final ChainWriter out = chain.writer();
            if (out.remaining() < MIN_EVENT_SIZE)
            {
                refusals.refuse(chain, "is an eventq buffer of " + out.remaining() + " writable bytes, fewer than the "
                    + MIN_EVENT_SIZE + " of a DQBUF event. Returned empty");
                queue.complete(chain, 0);
                continue;
            }
            event.fill((byte)0);
            final int slot = backend.nextDequeued(eventBuffer);
            if (slot < 0)
            {
                queue.complete(chain, 0);
                return;
            }
            event.set(LE32, 0, EVT_DQBUF);
            event.set(LE32, 4, sessionIds[slot]);
            final int size = (int)Math.min(out.remaining(), DQBUF_EVENT_SIZE);
            try
            {
                out.write(event, 0, size);
            }
            catch (final ChainAccessException e)
            {
                queue.complete(chain, 0);
                continue;
            }
            queue.complete(chain, size);
            eventsSent++;
        }
    }

    @Override
    public void reset()
    {
        for (int i = 0; i < open.length; i++)
        {
            if (open[i])
            {
                backend.close(i);
                open[i] = false;
            }
        }
        nextSessionId = 0;
    }

    /**
     * Closes the back-end (after the transport has stopped serving the device).
     */
    @Override
    public void close()
    {
        backend.close();
    }
}
