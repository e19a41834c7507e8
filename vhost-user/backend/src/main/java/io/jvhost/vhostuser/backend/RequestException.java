package io.jvhost.vhostuser.backend;

/**
 * A front-end request that is refused: answered with a failure (when a reply is due) and logged, and the
 * connection goes on.
 */
final class RequestException extends Exception
{
    private static final long serialVersionUID = 1L;

    RequestException(final String message)
    {
        super(message, null, false, false);
    }
}
