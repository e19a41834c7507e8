package io.jvhost.device.gpu;

import java.lang.System.Logger.Level;

/**
 * How a guest's mistakes are answered and logged: every part of the device reports through here, so a flood of bad
 * commands costs one rate-limited log ({@link RateLimitedLog}) and each line names the command it is about. Display
 * failures share the limit ({@link DisplayOutputs}). Guarded by the device lock.
 */
final class GuestErrors
{
    private static final System.Logger LOG = System.getLogger(GpuDevice.class.getName());

    private final String name;
    private final RateLimitedLog log;
    /** The command being handled (0 before its header is read), for messages. */
    private int command;

    GuestErrors(final String name)
    {
        this.name = name;
        this.log = new RateLimitedLog(LOG, name);
    }

    void command(final int type)
    {
        command = type;
    }

    int command()
    {
        return command;
    }

    /**
     * @return true when a line may be logged now.
     */
    boolean allow()
    {
        return log.allow();
    }

    /**
     * Logs (rate-limited) why the current command failed.
     *
     * @return {@code code}, the response.
     */
    int fail(final int code, final String why)
    {
        if (log.allow())
        {
            log.warn(GpuProtocol.name(command) + " failed with " + GpuProtocol.name(code) + ": " + why);
        }
        return code;
    }

    int tooShort(final int length, final int needed)
    {
        return fail(GpuProtocol.RESP_ERR_UNSPEC, "request of " + length + " bytes, needs " + needed);
    }

    int noResource(final int resourceId)
    {
        return fail(GpuProtocol.RESP_ERR_INVALID_RESOURCE_ID, "no resource " + id(resourceId));
    }

    int rectOutside(final long x, final long y, final long width, final long height, final Object area)
    {
        return fail(GpuProtocol.RESP_ERR_INVALID_PARAMETER, "rect " + x + "," + y + " " + width + "x" + height
            + " not inside " + area);
    }

    /**
     * Cursor commands have no response: a bad one is only logged.
     */
    void ignoreCursor(final String why)
    {
        if (log.allow())
        {
            log.warn("cursor command " + GpuProtocol.name(command) + " ignored: " + why);
        }
    }

    /**
     * A guest problem that is no command's failure (e.g. a response that could not be written); call
     * {@link #allow()} first, so a flood builds no messages.
     */
    void warn(final String message)
    {
        log.warn(message);
    }

    /**
     * A display call threw: logged with its stack, within the same limit.
     */
    void displayFailed(final String call, final RuntimeException e)
    {
        if (log.allow())
        {
            LOG.log(Level.WARNING, name + ": display " + call + " failed: " + e, e);
        }
    }

    static String id(final int resourceId)
    {
        return Integer.toUnsignedString(resourceId);
    }
}
