package io.jvhost.virgl;

/**
 * virglrenderer cannot be used in this process: the shared library is missing, lacks a symbol the binding needs,
 * or failed to load. The message names what is missing, so a device can refuse 3D with one clear log line.
 */
public final class VirglUnavailableException extends Exception
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is missing, e.g. {@code libvirglrenderer.so.1 has no symbol virgl_renderer_init}.
     */
    public VirglUnavailableException(final String message)
    {
        super(message);
    }
}
