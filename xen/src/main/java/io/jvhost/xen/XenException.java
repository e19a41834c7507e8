package io.jvhost.xen;

/** A Xen hypercall or device call failed; the message names the call, its arguments and the errno. */
public final class XenException extends Exception
{
    private static final long serialVersionUID = 1L;

    public XenException(final String message)
    {
        super(message);
    }
}
