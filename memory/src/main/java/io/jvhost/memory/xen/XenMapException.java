package io.jvhost.memory.xen;

/**
 * A Xen mapping the kernel or the hypervisor refused (the message names the call, the errno and the domain, frames
 * or references).
 */
public final class XenMapException extends Exception
{
    private static final long serialVersionUID = 1L;

    public XenMapException(final String message)
    {
        super(message);
    }
}
