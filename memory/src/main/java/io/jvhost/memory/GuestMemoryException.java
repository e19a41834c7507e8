package io.jvhost.memory;

/**
 * An address or length from the guest or the front-end that does not fit the memory map.
 */
public final class GuestMemoryException extends Exception
{
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(final String message)
    {
        super(message);
    }

    static String hex(final long value)
    {
        return "0x" + Long.toHexString(value);
    }
}
