package io.jvhost.vhostuser.backend;

import java.io.IOException;

import io.jvhost.vhostuser.protocol.Message;

/**
 * Handles the transport-specific requests of one device type on one connection (e.g. vhost-user-gpu's
 * GPU_SET_SOCKET), which the generic back-end does not know. One instance per connection.
 */
public interface VhostUserExtension extends AutoCloseable
{
    /**
     * @param request the request; take any descriptor to keep with {@code request.fds().take(i)}, the rest are
     *                closed after this returns.
     * @return true when the request was handled (a NEED_REPLY request is then acknowledged with success), false
     *     when this extension does not know it.
     * @throws IOException          the request failed: answered with a failure when a reply is due, and logged.
     * @throws IllegalArgumentException the request was malformed: likewise.
     */
    boolean handle(Message request) throws IOException;

    /**
     * @return protocol features to offer on top of the back-end's own.
     */
    default long protocolFeatures()
    {
        return 0;
    }

    /**
     * The connection ended (also called before the device is reset).
     */
    @Override
    default void close()
    {
    }
}
