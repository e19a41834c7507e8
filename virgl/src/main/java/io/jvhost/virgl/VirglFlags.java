package io.jvhost.virgl;

/**
 * The flags of {@code virgl_renderer_init}. On a machine without a render node (no {@code /dev/dri}) only
 * {@code USE_EGL | USE_SURFACELESS} initialises (Mesa's llvmpipe); plain {@code USE_EGL} needs GBM on a render
 * node and fails with -1.
 */
public final class VirglFlags
{
    /** Use EGL (on GBM, or surfaceless with {@link #USE_SURFACELESS}). */
    public static final int USE_EGL = 1;
    /** Wait for GL fences on a thread of virglrenderer's and signal an eventfd ({@code get_poll_fd}). */
    public static final int THREAD_SYNC = 1 << 1;
    /** Use GLX instead of EGL. */
    public static final int USE_GLX = 1 << 2;
    /** EGL without a GBM device: the only working mode without a render node. */
    public static final int USE_SURFACELESS = 1 << 3;
    /** Create GLES host contexts instead of desktop GL. */
    public static final int USE_GLES = 1 << 4;
    /** Blob resources must be exportable as fds. */
    public static final int USE_EXTERNAL_BLOB = 1 << 5;
    /** Enable the Venus (Vulkan) renderer. */
    public static final int VENUS = 1 << 6;
    /** Disable the virgl (GL) renderer. */
    public static final int NO_VIRGL = 1 << 7;
    /** With THREAD_SYNC: call write_fence from virglrenderer's own thread (a foreign-thread upcall). */
    public static final int ASYNC_FENCE_CB = 1 << 8;
    /** Run Venus in a separate render server process. */
    public static final int RENDER_SERVER = 1 << 9;
    /** Enable the native-context DRM renderer. */
    public static final int DRM = 1 << 10;

    /** What jvhost uses here: EGL, surfaceless (llvmpipe or a GPU), fences signalled through the poll fd. */
    public static final int SURFACELESS_EGL = USE_EGL | USE_SURFACELESS | THREAD_SYNC;

    private static final String[] NAMES = {
        "USE_EGL", "THREAD_SYNC", "USE_GLX", "USE_SURFACELESS", "USE_GLES", "USE_EXTERNAL_BLOB", "VENUS", "NO_VIRGL",
        "ASYNC_FENCE_CB", "RENDER_SERVER", "DRM",
    };

    private VirglFlags()
    {
    }

    /**
     * @return the flags by name for error messages, e.g. {@code USE_EGL|THREAD_SYNC|USE_SURFACELESS (0xb)}.
     */
    public static String describe(final int flags)
    {
        final StringBuilder out = new StringBuilder();
        int rest = flags;
        for (int bit = 0; bit < NAMES.length; bit++)
        {
            if (0 != (flags & (1 << bit)))
            {
                out.append(out.isEmpty() ? "" : "|").append(NAMES[bit]);
                rest &= ~(1 << bit);
            }
        }
        if (0 != rest)
        {
            out.append(out.isEmpty() ? "" : "|").append("0x").append(Integer.toHexString(rest));
        }
        return (out.isEmpty() ? "0" : out.toString()) + " (0x" + Integer.toHexString(flags) + ")";
    }
}
