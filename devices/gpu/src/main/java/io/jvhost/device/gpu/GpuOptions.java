package io.jvhost.device.gpu;

/**
 * How a {@link GpuDevice} is configured.
 *
 * @param maxOutputs    scanouts (connectors) the guest sees: 1..16 (QEMU's {@code max_outputs}).
 * @param maxHostMem    the device's host memory budget: the guest's images, the displays' copies of its scanouts
 *                      and their viewers' buffers together (QEMU's {@code max_hostmem} counts the images only).
 *                      What does not fit is refused with OUT_OF_MEMORY.
 * @param edid          offer VIRTIO_GPU_F_EDID (GET_EDID is answered by the display, or generated here).
 * @param defaultWidth  the mode reported when no display answers (QEMU's {@code xres}): 1..4095, the largest an
 *                      EDID detailed timing can describe.
 * @param defaultHeight likewise ({@code yres}).
 * @param resourceUuid  offer VIRTIO_GPU_F_RESOURCE_UUID (RESOURCE_ASSIGN_UUID).
 * @param resourceBlob  offer VIRTIO_GPU_F_RESOURCE_BLOB (guest-memory blobs and SET_SCANOUT_BLOB). Off unless asked
 *                      for, as in QEMU's virtio-gpu ({@code blob=off}); QEMU 10's vhost-user-gpu passes the guest
 *                      only VIRGL and EDID of a back-end's features anyway, so only other front-ends can use it.
 * @param virglFlags    0 for 2D; else 3D mode: the {@code virgl_renderer_init} flags (io.jvhost.virgl.VirglFlags),
 *                      and VIRTIO_GPU_F_VIRGL is offered; plus, ours, {@link #VIRGL_GLES_FALLBACK}.
 * @param capsets       3D only: bit n set offers capset id n (1 virgl, 2 virgl2, 4 venus: needs the VENUS init
 *                      flag, 1 &lt;&lt; 6); 0 in 2D mode.
 */
public record GpuOptions(int maxOutputs, long maxHostMem, boolean edid, int defaultWidth, int defaultHeight,
    boolean resourceUuid, boolean resourceBlob, int virglFlags, int capsets)
{
    /** Capset ids 3D mode can offer: virgl (1), virgl2 (2) and venus (4). */
    public static final int SUPPORTED_CAPSETS = 1 << 1 | 1 << 2 | 1 << 4;
    /** The capset bit of Venus. */
    public static final int CAPSET_VENUS_BIT = 1 << 4;
    /** virglrenderer's init flag for Venus (VIRGL_RENDERER_VENUS). */
    private static final int VIRGL_VENUS_FLAG = 1 << 6;
    /**
     * Not virglrenderer's (stripped before {@code virgl_renderer_init}): start with a desktop GL host context and,
     * should that not start, with OpenGL ES (USE_GLES). Desktop GL reads B8G8R8X8 frames straight into the guest's or
     * the display's memory; a GLES context reads them into a temporary buffer and swizzles, which costs about twice
     * the CPU per 1080p readback on llvmpipe.
     */
    public static final int VIRGL_GLES_FALLBACK = 1 << 30;
    /** VIRGL_RENDERER_ASYNC_FENCE_CB: fences reported from virglrenderer's own thread. */
    private static final int VIRGL_ASYNC_FENCE_CB_FLAG = 1 << 8;

    public static final int DEFAULT_MAX_OUTPUTS = 1;
    public static final long DEFAULT_MAX_HOST_MEM = 256L << 20;
    public static final int DEFAULT_WIDTH = 1280;
    public static final int DEFAULT_HEIGHT = 800;
    /** An EDID detailed timing has 12 bits for the active pixels. */
    public static final int MAX_DEFAULT_DIMENSION = 4095;

    /**
     * @throws IllegalArgumentException naming the first value out of range.
     */
    public GpuOptions
    {
        if (maxOutputs < 1 || maxOutputs > GpuProtocol.MAX_SCANOUTS)
        {
            throw new IllegalArgumentException("maxOutputs must be 1.." + GpuProtocol.MAX_SCANOUTS + ", got "
                + maxOutputs);
        }
        if (maxHostMem <= 0)
        {
            throw new IllegalArgumentException("maxHostMem must be positive, got " + maxHostMem);
        }
        if (defaultWidth < 1 || defaultWidth > MAX_DEFAULT_DIMENSION)
        {
            throw new IllegalArgumentException("defaultWidth must be 1.." + MAX_DEFAULT_DIMENSION + ", got "
                + defaultWidth);
        }
        if (defaultHeight < 1 || defaultHeight > MAX_DEFAULT_DIMENSION)
        {
            throw new IllegalArgumentException("defaultHeight must be 1.." + MAX_DEFAULT_DIMENSION + ", got "
                + defaultHeight);
        }
        if (0 == virglFlags && 0 != capsets)
        {
            throw new IllegalArgumentException("capsets 0x" + Integer.toHexString(capsets) + " need 3D mode");
        }
        if (0 != virglFlags && (0 == capsets || 0 != (capsets & ~SUPPORTED_CAPSETS)))
        {
            throw new IllegalArgumentException("3D mode needs capsets among virgl (1), virgl2 (2) and venus (4),"
                + " got 0x" + Integer.toHexString(capsets));
        }
        if (0 != (virglFlags & VIRGL_ASYNC_FENCE_CB_FLAG))
        {
            throw new IllegalArgumentException("virglrenderer flag ASYNC_FENCE_CB (0x100) would report fences from a"
                + " thread of virglrenderer's; the device takes them on its worker, inside virgl_renderer_poll");
        }
        if (0 != (capsets & CAPSET_VENUS_BIT) && 0 == (virglFlags & VIRGL_VENUS_FLAG))
        {
            throw new IllegalArgumentException("capset venus (4) needs virglrenderer started with VENUS (0x40), flags 0x"
                + Integer.toHexString(virglFlags));
        }
        if (0 != virglFlags && resourceBlob)
        {
            throw new IllegalArgumentException("blob resources are 2D only (3D blobs need host-visible memory)");
        }
    }

    /**
     * @return true in 3D mode (virglrenderer).
     */
    public boolean threeD()
    {
        return 0 != virglFlags;
    }

    /**
     * @return QEMU's defaults: one output, 256 MiB, EDID, 1280×800, UUID on, blob off.
     */
    public static GpuOptions defaults()
    {
        return builder().build();
    }

    /**
     * @return a builder starting from the defaults.
     */
    public static Builder builder()
    {
        return new Builder();
    }

    /**
     * @return a builder starting from these options.
     */
    public Builder toBuilder()
    {
        return new Builder().maxOutputs(maxOutputs).maxHostMem(maxHostMem).edid(edid)
            .defaultMode(defaultWidth, defaultHeight).resourceUuid(resourceUuid).resourceBlob(resourceBlob)
            .virgl(virglFlags, capsets);
    }

    /**
     * Fluent construction; {@link #build()} validates.
     */
    public static final class Builder
    {
        private int maxOutputs = DEFAULT_MAX_OUTPUTS;
        private long maxHostMem = DEFAULT_MAX_HOST_MEM;
        private boolean edid = true;
        private int defaultWidth = DEFAULT_WIDTH;
        private int defaultHeight = DEFAULT_HEIGHT;
        private boolean resourceUuid = true;
        private boolean resourceBlob;
        private int virglFlags;
        private int capsets;

        private Builder()
        {
        }

        public Builder maxOutputs(final int maxOutputs)
        {
            this.maxOutputs = maxOutputs;
            return this;
        }

        public Builder maxHostMem(final long maxHostMem)
        {
            this.maxHostMem = maxHostMem;
            return this;
        }

        public Builder edid(final boolean edid)
        {
            this.edid = edid;
            return this;
        }

        public Builder defaultMode(final int width, final int height)
        {
            this.defaultWidth = width;
            this.defaultHeight = height;
            return this;
        }

        public Builder resourceUuid(final boolean resourceUuid)
        {
            this.resourceUuid = resourceUuid;
            return this;
        }

        public Builder resourceBlob(final boolean resourceBlob)
        {
            this.resourceBlob = resourceBlob;
            return this;
        }

        /**
         * 3D mode with these virglrenderer init flags and capsets (bit n = capset id n); flags 0 is 2D.
         */
        public Builder virgl(final int flags, final int capsetMask)
        {
            this.virglFlags = flags;
            this.capsets = capsetMask;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the first value out of range.
         */
        public GpuOptions build()
        {
            return new GpuOptions(maxOutputs, maxHostMem, edid, defaultWidth, defaultHeight, resourceUuid,
                resourceBlob, virglFlags, capsets);
        }
    }
}
