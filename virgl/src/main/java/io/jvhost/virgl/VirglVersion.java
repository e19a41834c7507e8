package io.jvhost.virgl;

/**
 * Which virglrenderer API the loaded library offers. The library has no version call (its pkg-config version and
 * soname do not follow the releases), so the version is told by the symbols it exports: 1.0 added
 * {@code virgl_renderer_resource_get_info_ext} and {@code virgl_set_log_callback}, 1.2 added
 * {@code virgl_renderer_get_fence_fd}.
 */
public enum VirglVersion
{
    /** 0.10.x (Debian 12 ships 0.10.4): the v3 callbacks are "unstable" but accepted, logging via va_list. */
    V0_10("0.10.x"),
    /** 1.0 or 1.1: formatted log callback, resource_get_info_ext, 64-bit export_fence. */
    V1_0("1.0 or later"),
    /** 1.2 or later: fence fds and attach_fence. */
    V1_2("1.2 or later");

    private final String label;

    VirglVersion(final String label)
    {
        this.label = label;
    }

    /**
     * @return what a log line should say, e.g. {@code 0.10.x}.
     */
    public String label()
    {
        return label;
    }

    /**
     * @return true when this version is {@code other} or newer.
     */
    public boolean atLeast(final VirglVersion other)
    {
        return compareTo(other) >= 0;
    }
}
