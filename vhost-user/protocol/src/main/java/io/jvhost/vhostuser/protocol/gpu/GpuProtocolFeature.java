package io.jvhost.vhostuser.protocol.gpu;

/**
 * Protocol feature bits of the vhost-user-gpu display socket (GET/SET_PROTOCOL_FEATURES, a u64). QEMU 7.x offers
 * none; QEMU 8.2 and later offer both.
 */
public final class GpuProtocolFeature
{
    /** QEMU answers GET_EDID (8.1+); without it GET_EDID is an "unhandled message" that is never answered. */
    public static final int EDID = 0;
    /** QEMU accepts DMABUF_SCANOUT2 (a dma-buf with a format modifier, 8.2+). */
    public static final int DMABUF2 = 1;

    private GpuProtocolFeature()
    {
    }

    public static long bit(final int feature)
    {
        return 1L << feature;
    }

    public static boolean has(final long features, final int feature)
    {
        return (features & (1L << feature)) != 0;
    }
}
