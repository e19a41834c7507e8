package io.jvhost.memory;

/**
 * An access to validated guest memory that could not be made: the grants of a region mapped per access
 * (GRANT|NO_ADVANCE_MAP) could not be mapped, because the guest revoked them or never granted those references.
 * It is the grant counterpart of a fault on a memfd the front-end truncated under our mapping, and handled the same
 * way: thrown from the access (which has no other way to fail), it ends the connection with this message.
 */
public final class GuestAccessFault extends Error
{
    private static final long serialVersionUID = 1L;

    public GuestAccessFault(final String message)
    {
        super(message);
    }
}
