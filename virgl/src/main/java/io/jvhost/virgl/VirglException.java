package io.jvhost.virgl;

import io.jvhost.os.Errno;

/**
 * A virglrenderer call that returned failure. virglrenderer is not consistent about signs: most calls return a
 * positive errno ({@code 22}), some a negative one ({@code -EBUSY}), {@code virgl_renderer_init} also a bare
 * {@code -1}; every non-zero value is a failure, and the message names the function, its arguments and the code.
 */
public final class VirglException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final String function;
    private final int code;

    /**
     * @param function the C function, e.g. {@code virgl_renderer_context_create}.
     * @param code     the non-zero value it returned.
     * @param detail   the arguments worth reporting, or an empty string.
     */
    public VirglException(final String function, final int code, final String detail)
    {
        super(function + " failed: " + describe(code) + (detail.isEmpty() ? "" : ", " + detail));
        this.function = function;
        this.code = code;
    }

    /**
     * @return the C function that failed.
     */
    public String function()
    {
        return function;
    }

    /**
     * @return the value it returned, as it returned it (22, -16, -1...).
     */
    public int code()
    {
        return code;
    }

    /**
     * Names a virglrenderer return value for a log line: {@code EINVAL (22)}, {@code -EBUSY (-16)}, {@code code -1}
     * ({@code -1} is init's "failed", not {@code -EPERM}).
     *
     * @param code a value a virglrenderer call returned.
     * @return its description.
     */
    public static String describe(final int code)
    {
        if (code == 0)
        {
            return "success (0)";
        }
        if (code == -1)
        {
            return "code -1";
        }
        final String name = Errno.name(Math.abs(code));
        if (name.startsWith("errno="))
        {
            return "code " + code;
        }
        return (code < 0 ? "-" : "") + name + " (" + code + ")";
    }
}
