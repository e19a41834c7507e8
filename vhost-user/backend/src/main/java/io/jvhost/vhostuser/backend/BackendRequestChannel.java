package io.jvhost.vhostuser.backend;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.jvhost.os.Errno;
import io.jvhost.os.FdList;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.BackendRequest;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.Payloads;

/**
 * The back-end's end of the back-end request channel (SET_BACKEND_REQ_FD): sends BACKEND_CONFIG_CHANGE_MSG and reads
 * the front-end's REPLY_ACK answers, never waiting for the front-end.
 * <p>
 * A message is sent with {@code MSG_DONTWAIT} (the descriptor is the front-end's: its flags are left alone); a full
 * socket means the front-end is not reading, and the notification is dropped with a log line. Answers are read with
 * {@code MSG_DONTWAIT} too, whenever the next notification goes out and after each front-end request
 * ({@link #drainReplies()}): a front-end that handled the change reads the new config with GET_CONFIG, so its answer
 * is read then. At most {@link #MAX_UNANSWERED} notifications wait for an answer; beyond that the front-end counts as
 * not answering and no more are sent. A front-end that closes its end, or breaks the framing, ends the channel (one log
 * line); the device goes on without notifications. Thread-safe: notifications come from any thread, answers are read
 * on the protocol thread.
 */
final class BackendRequestChannel implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(BackendRequestChannel.class.getName());

    /** Notifications that may wait for their answer before the front-end counts as not answering. */
    static final int MAX_UNANSWERED = 64;
    private static final int REPLY_LENGTH = MessageHeader.LENGTH + Payloads.U64_SIZE;
    private static final long IOV_SIZE = 16;
    private static final long MSGHDR_SIZE = 56;
    private static final long MSGHDR_IOV = 16;
    private static final long MSGHDR_IOVLEN = 24;

    private final String name;
    private final UnixSocket socket;
    private final boolean needReply;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out;
    private final MemorySegment iov;
    private final MemorySegment msghdr;
    private final MemorySegment in;
    private final FdList inFds = new FdList();

    // Guarded by this.
    private int inLength;
    private int unanswered;
    private String endedBecause;
    private boolean closed;
    private long sent;
    private long acked;
    private long refused;
    private long dropped;
    private boolean refusalLogged;
    private boolean dropLogged;

    /**
     * @param socket    the descriptor SET_BACKEND_REQ_FD brought; closed with this channel.
     * @param needReply REPLY_ACK was negotiated: each notification asks for an answer.
     */
    BackendRequestChannel(final String name, final UnixSocket socket, final boolean needReply)
    {
        this.name = name;
        this.socket = socket;
        this.needReply = needReply;
        this.out = arena.allocate(MessageHeader.LENGTH, 8);
        this.iov = arena.allocate(IOV_SIZE, 8);
        this.msghdr = arena.allocate(MSGHDR_SIZE, 8);
        this.in = arena.allocate(REPLY_LENGTH, 8);
    }

    /**
     * Sends BACKEND_CONFIG_CHANGE_MSG without waiting.
     *
     * @return true when the message went out whole.
     */
    synchronized boolean configChanged()
    {
        drainRepliesLocked();
        if (null != endedBecause || closed)
        {
            dropped++;
            return false;
        }
        if (unanswered >= MAX_UNANSWERED)
        {
            dropLocked("the front-end has not answered the last " + unanswered + " notifications");
            return false;
        }
        out.set(ValueLayout.JAVA_INT, MessageHeader.REQUEST_OFFSET, BackendRequest.CONFIG_CHANGE_MSG);
        out.set(ValueLayout.JAVA_INT, MessageHeader.FLAGS_OFFSET,
            MessageHeader.VERSION | (needReply ? MessageHeader.NEED_REPLY : 0));
        out.set(ValueLayout.JAVA_INT, MessageHeader.SIZE_OFFSET, 0);
        iov.set(ValueLayout.JAVA_LONG, 0, out.address());
        iov.set(ValueLayout.JAVA_LONG, 8, MessageHeader.LENGTH);
        msghdr.fill((byte)0);
        msghdr.set(ValueLayout.JAVA_LONG, MSGHDR_IOV, iov.address());
        msghdr.set(ValueLayout.JAVA_LONG, MSGHDR_IOVLEN, 1L);
        long n;
        do
        {
            n = LibC.sendmsgRaw(socket.fd(), msghdr, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
        }
        while (n == -Errno.EINTR);
        if (n == MessageHeader.LENGTH)
        {
            sent++;
            if (needReply)
            {
                unanswered++;
            }
            return true;
        }
        if (n == -Errno.EAGAIN)
        {
            dropLocked("the front-end is not reading the channel (its socket is full)");
        }
        else if (n >= 0)
        {
            // A part went out: the rest cannot follow without waiting, and the stream is out of step.
            endLocked("only " + n + " of the " + MessageHeader.LENGTH + " bytes of CONFIG_CHANGE_MSG could be sent");
            dropped++;
        }
        else
        {
            endLocked("sending CONFIG_CHANGE_MSG failed: " + Errno.name((int)-n) + ", fd=" + socket.fd());
            dropped++;
        }
        return false;
    }

    /**
     * Reads the front-end's answers that have arrived, without waiting. Cheap when none are awaited.
     */
    synchronized void drainReplies()
    {
        drainRepliesLocked();
    }

    private void drainRepliesLocked()
    {
        while (unanswered > 0 && null == endedBecause && !closed)
        {
            final long n;
            try
            {
                n = socket.receiveNow(in, inLength, REPLY_LENGTH - inLength, inFds);
            }
            catch (final NativeException e)
            {
                endLocked("reading the front-end's answer failed: " + e.getMessage());
                return;
            }
            finally
            {
                inFds.closeRemaining();
            }
            if (n == UnixSocket.WOULD_BLOCK)
            {
                return;
            }
            if (n == 0)
            {
                endLocked("the front-end closed it with " + unanswered + " answer(s) outstanding");
                return;
            }
            inLength += (int)n;
            if (inLength == REPLY_LENGTH)
            {
                inLength = 0;
                answered();
            }
        }
    }

    private void answered()
    {
        final int request = in.get(ValueLayout.JAVA_INT, MessageHeader.REQUEST_OFFSET);
        final int flags = in.get(ValueLayout.JAVA_INT, MessageHeader.FLAGS_OFFSET);
        final int size = in.get(ValueLayout.JAVA_INT, MessageHeader.SIZE_OFFSET);
        if (request != BackendRequest.CONFIG_CHANGE_MSG || (flags & MessageHeader.REPLY) == 0
            || size != Payloads.U64_SIZE)
        {
            endLocked("the front-end answered with request " + BackendRequest.name(request) + ", flags 0x"
                + Integer.toHexString(flags) + ", size " + Integer.toUnsignedString(size) + " (expected a u64 reply to "
                + "CONFIG_CHANGE_MSG)");
            return;
        }
        unanswered--;
        final long status = in.get(ValueLayout.JAVA_LONG_UNALIGNED, MessageHeader.LENGTH);
        if (status == 0)
        {
            acked++;
            return;
        }
        refused++;
        if (!refusalLogged)
        {
            refusalLogged = true;
            LOG.log(Level.WARNING, name + ": the front-end did not pass a config change on to the guest (answer 0x"
                + Long.toHexString(status) + "; QEMU's vhost-user-gpu-pci never does): the guest learns of it only"
                + " when it next reads the config");
        }
    }

    private void dropLocked(final String why)
    {
        dropped++;
        if (!dropLogged)
        {
            dropLogged = true;
            LOG.log(Level.WARNING, name + ": config change not sent: " + why + " (further drops are not logged)");
        }
    }

    private void endLocked(final String why)
    {
        endedBecause = why;
        LOG.log(Level.WARNING, name + ": back-end channel ended: " + why + "; config changes are no longer sent");
    }

    /**
     * @return notifications sent whole.
     */
    synchronized long sent()
    {
        return sent;
    }

    /**
     * @return answers read: {@code [acked, refused]}.
     */
    synchronized long[] answers()
    {
        return new long[] {acked, refused};
    }

    /**
     * @return notifications not sent (socket full, too many unanswered, channel ended).
     */
    synchronized long dropped()
    {
        return dropped;
    }

    /**
     * @return notifications waiting for their answer.
     */
    synchronized int unanswered()
    {
        return unanswered;
    }

    /**
     * @return why the channel ended, or null while it works.
     */
    synchronized String endedBecause()
    {
        return endedBecause;
    }

    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        socket.close();
        arena.close();
    }
}
