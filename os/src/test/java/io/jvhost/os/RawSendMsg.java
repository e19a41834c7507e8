package io.jvhost.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Builds {@code struct msghdr} by hand, so tests can send what {@link UnixSocket#send} refuses to: several
 * SCM_RIGHTS control messages in one sendmsg, or more descriptors than a vhost-user message may carry.
 */
final class RawSendMsg
{
    private static final long CMSG_HEADER = 16;

    private RawSendMsg()
    {
    }

    private static long cmsgSpace(final int fdCount)
    {
        return CMSG_HEADER + ((4L * fdCount + 7) & ~7L);
    }

    /**
     * Sends {@code data} with one SCM_RIGHTS control message per entry of {@code cmsgFds}.
     *
     * @return the sendmsg result: bytes sent, or -errno.
     */
    static long send(final int socketFd, final byte[] data, final int[]... cmsgFds)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment bytes = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, bytes, ValueLayout.JAVA_BYTE, 0, data.length);
            final MemorySegment iov = arena.allocate(16, 8);
            iov.set(ValueLayout.JAVA_LONG, 0, bytes.address());
            iov.set(ValueLayout.JAVA_LONG, 8, data.length);

            long controlLen = 0;
            for (final int[] fds : cmsgFds)
            {
                controlLen += cmsgSpace(fds.length);
            }
            final MemorySegment control = arena.allocate(Math.max(8, controlLen), 8);
            long pos = 0;
            for (final int[] fds : cmsgFds)
            {
                control.set(ValueLayout.JAVA_LONG, pos, CMSG_HEADER + 4L * fds.length);
                control.set(ValueLayout.JAVA_INT, pos + 8, LibC.SOL_SOCKET);
                control.set(ValueLayout.JAVA_INT, pos + 12, LibC.SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++)
                {
                    control.set(ValueLayout.JAVA_INT, pos + CMSG_HEADER + 4L * i, fds[i]);
                }
                pos += cmsgSpace(fds.length);
            }

            final MemorySegment msg = arena.allocate(56, 8);
            msg.set(ValueLayout.JAVA_LONG, 16, iov.address());
            msg.set(ValueLayout.JAVA_LONG, 24, 1L);
            if (controlLen > 0)
            {
                msg.set(ValueLayout.JAVA_LONG, 32, control.address());
                msg.set(ValueLayout.JAVA_LONG, 40, controlLen);
            }
            return LibC.sendmsgRaw(socketFd, msg, LibC.MSG_NOSIGNAL);
        }
    }
}
