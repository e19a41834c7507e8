package io.jvhost.device.media;

import java.lang.foreign.MemorySegment;

import io.jvhost.device.media.wire.Capability;
import io.jvhost.memory.GuestMemory;
import io.jvhost.virtqueue.ChainReader;

/**
 * rust-vmm's {@code null} media back-end: a video node with no capability. Sessions open and close; QUERYCAP is
 * answered (device_caps 0), every other ioctl is {@code ENOTTY}. Useful to check a guest's probe and the transport.
 */
public final class NullMedia implements MediaBackend
{
    public static final int MAX_SESSIONS = 16;
    public static final String CARD = "jvhost null media";

    private final Capability cap = new Capability();

    @Override
    public int deviceCaps()
    {
        return 0;
    }

    @Override
    public String card()
    {
        return CARD;
    }

    @Override
    public int maxSessions()
    {
        return MAX_SESSIONS;
    }

    @Override
    public int open(final int slot)
    {
        return 0;
    }

    @Override
    public void close(final int slot)
    {
    }

    @Override
    public int ioctl(final int slot, final int code, final MemorySegment payload, final ChainReader rest,
        final GuestMemory memory)
    {
        if (code != V4l2.QUERYCAP)
        {
            return MediaDevice.ENOTTY;
        }
        cap.wrap(payload);
        cap.set("jvhost-media", CARD, "platform:jvhost-media", 0x00_06_0C, V4l2.CAP_DEVICE_CAPS, 0);
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
    }
}
