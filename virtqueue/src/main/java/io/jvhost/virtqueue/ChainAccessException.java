package io.jvhost.virtqueue;

/**
 * A device read past the readable part, or wrote past the writable part, of a descriptor chain: the request is
 * malformed (too short) and should be answered with the device's error status.
 */
public final class ChainAccessException extends Exception
{
    private static final long serialVersionUID = 1L;

    public ChainAccessException(final String message)
    {
        super(message, null, false, false);
    }
}
