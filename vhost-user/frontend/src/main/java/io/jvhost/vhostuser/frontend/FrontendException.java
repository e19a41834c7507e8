package io.jvhost.vhostuser.frontend;

import java.io.IOException;

import io.jvhost.vhostuser.protocol.FrontendRequest;

/**
 * A vhost-user request failed: the back-end refused it (a non-zero REPLY_ACK code or error reply), answered in a way
 * the protocol forbids, did not answer in time, or went away.
 */
public final class FrontendException extends IOException
{
    private static final long serialVersionUID = 1L;

    /**
     * What went wrong.
     */
    public enum Kind
    {
        /** The back-end answered with a non-zero status: it refused the request. */
        REFUSED,
        /** The reply broke the protocol (flags, request id, size, descriptors). */
        BAD_REPLY,
        /** No reply within the receive timeout. */
        TIMEOUT,
        /** The connection is closed or broken. */
        DISCONNECTED
    }

    private final Kind kind;
    private final int request;
    private final long code;

    /**
     * @param kind    what went wrong.
     * @param request the request code it concerns.
     * @param code    the back-end's status code for {@link Kind#REFUSED}, otherwise 0.
     * @param message the detail.
     */
    public FrontendException(final Kind kind, final int request, final long code, final String message,
        final Throwable cause)
    {
        super(FrontendRequest.name(request) + ": " + message, cause);
        this.kind = kind;
        this.request = request;
        this.code = code;
    }

    static FrontendException refused(final int request, final long code)
    {
        return new FrontendException(Kind.REFUSED, request, code, "back-end refused the request, status code "
            + code + " (0x" + Long.toHexString(code) + ")", null);
    }

    static FrontendException badReply(final int request, final String detail)
    {
        return new FrontendException(Kind.BAD_REPLY, request, 0, "invalid reply: " + detail, null);
    }

    public Kind kind()
    {
        return kind;
    }

    /**
     * @return the request code (e.g. {@link FrontendRequest#SET_MEM_TABLE}).
     */
    public int request()
    {
        return request;
    }

    /**
     * @return the back-end's status code when it refused the request, otherwise 0.
     */
    public long code()
    {
        return code;
    }
}
