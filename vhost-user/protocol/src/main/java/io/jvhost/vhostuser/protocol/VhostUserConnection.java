package io.jvhost.vhostuser.protocol;

import java.io.EOFException;
import java.io.IOException;

import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;

/**
 * One end of a vhost-user connection: reads and writes whole messages (header, payload, descriptors) on a
 * {@link UnixSocket}. Used by the back-end (requests in, replies out), by the front-end (the reverse), and for the
 * vhost-user-gpu display socket, whose messages carry no version bits ({@code strictVersion = false}).
 */
public final class VhostUserConnection implements AutoCloseable
{
    private final UnixSocket socket;
    private final boolean strictVersion;
    private final int[] sendFds = new int[32];

    /**
     * @param strictVersion when true, a header whose version bits are not 1 is a protocol error.
     */
    public VhostUserConnection(final UnixSocket socket, final boolean strictVersion)
    {
        this.socket = socket;
        this.strictVersion = strictVersion;
    }

    public UnixSocket socket()
    {
        return socket;
    }

    /**
     * Reads one message into {@code msg}; descriptors that arrive are appended to {@code msg.fds()} (the caller
     * must {@code closeRemaining()} them after handling).
     *
     * @return false when the peer closed the connection cleanly between messages.
     * @throws ProtocolException the header is invalid (bad version, payload too large): the stream cannot be
     *                           trusted any more and the connection should be dropped.
     * @throws IOException       the socket failed or closed mid-message (a header without its payload included).
     */
    public boolean receive(final Message msg) throws IOException
    {
        if (!socket.receiveFully(msg.buffer(), 0, MessageHeader.LENGTH, msg.fds()))
        {
            return false;
        }
        final int flags = msg.flags();
        final int size = msg.size();
        if (strictVersion && (flags & MessageHeader.VERSION_MASK) != MessageHeader.VERSION)
        {
            throw new ProtocolException("bad header version in " + msg.describe());
        }
        if (size < 0 || size > msg.maxPayload())
        {
            throw new ProtocolException("payload too large in " + FrontendRequest.name(msg.request()) + ": size="
                + Integer.toUnsignedString(size) + " > " + msg.maxPayload());
        }
        if (size > 0 && !socket.receiveFully(msg.buffer(), MessageHeader.LENGTH, size, msg.fds()))
        {
            // Without this the buffer would still hold the previous message's payload.
            throw new EOFException("peer closed the connection after the header of " + msg.describe()
                + ", before its " + size + "-byte payload");
        }
        return true;
    }

    /**
     * Sends the message in {@code msg} (header and the payload size it declares) with the descriptors in
     * {@code fds[0..fdCount)}.
     */
    public void send(final Message msg, final int[] fds, final int fdCount) throws NativeException
    {
        socket.send(msg.buffer(), 0, MessageHeader.LENGTH + (long)msg.size(), fds, fdCount);
    }

    /**
     * Sends the message with no descriptors.
     */
    public void send(final Message msg) throws NativeException
    {
        socket.send(msg.buffer(), 0, MessageHeader.LENGTH + (long)msg.size(), sendFds, 0);
    }

    /**
     * Wakes a thread blocked in {@link #receive} (it sees end of stream).
     */
    public void shutdown()
    {
        socket.shutdown();
    }

    @Override
    public void close()
    {
        socket.close();
    }
}
