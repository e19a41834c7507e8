package io.jvhost.vhostuser.protocol;

import java.io.IOException;

/**
 * The peer broke the vhost-user protocol in a way that leaves the byte stream unusable.
 */
public final class ProtocolException extends IOException
{
    private static final long serialVersionUID = 1L;

    public ProtocolException(final String message)
    {
        super(message);
    }
}
