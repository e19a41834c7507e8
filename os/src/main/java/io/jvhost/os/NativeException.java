package io.jvhost.os;

import java.io.IOException;

/**
 * A failed system call: names the call, its errno and the values it was given.
 */
public final class NativeException extends IOException
{
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /**
     * @param call   the C function that failed, e.g. {@code recvmsg}.
     * @param errno  the errno it left.
     * @param detail the arguments worth reporting (fd, path, size), or an empty string.
     */
    public NativeException(final String call, final int errno, final String detail)
    {
        super(call + " failed: " + Errno.name(errno) + " (" + errno + ")" + (detail.isEmpty() ? "" : ", " + detail));
        this.call = call;
        this.errno = errno;
    }

    /**
     * @return the C function that failed.
     */
    public String call()
    {
        return call;
    }

    /**
     * @return the errno value.
     */
    public int errno()
    {
        return errno;
    }

    /**
     * @return the errno's symbolic name.
     */
    public String errnoName()
    {
        return Errno.name(errno);
    }
}
