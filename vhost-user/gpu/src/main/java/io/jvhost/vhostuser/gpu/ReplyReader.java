package io.jvhost.vhostuser.gpu;

import java.lang.System.Logger.Level;
import java.util.concurrent.locks.ReentrantLock;

import io.jvhost.device.FdWatch;
import io.jvhost.device.FdWatcher;
import io.jvhost.os.Epoll;
import io.jvhost.os.EventFd;
import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.gpu.GpuRequest;

/**
 * Reads QEMU's replies from the display socket, without ever waiting on it: on its own thread, or on a GPU worker
 * the device offers ({@link #readRepliesOn}), which then completes a waiting command without a hand-over between
 * threads. One reader at a time; a reply that arrives in pieces is kept until it is whole, a payload larger than any
 * reply or descriptors QEMU should not send end the display or are closed. Each whole reply goes to the
 * {@link Owner}.
 */
final class ReplyReader implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(VhostUserGpuDisplay.class.getName());
    private static final int HEADER = MessageHeader.LENGTH;
    private static final int MAX_REPLY_PAYLOAD = 4096;
    private static final long TOKEN_WAKE = 1;
    private static final long TOKEN_SOCKET = 2;
    /** Replies one read handles before it lets its thread go (it is called again while more are there). */
    private static final int MAX_REPLIES_PER_READ = 64;

    /**
     * The display the replies are for.
     */
    interface Owner
    {
        boolean isClosed();

        boolean isClosedOrGone();

        /**
         * A whole reply, on the reading thread; {@code msg} is reused for the next one.
         */
        void onMessage(Message msg);

        /**
         * The socket ended or failed: the display ends.
         */
        void gone(String reason);
    }

    private final String name;
    private final UnixSocket socket;
    private final int fd;
    private final Owner owner;
    /** Wakes the reader thread (close, or a change of who reads). */
    private final EventFd readerWake;
    /** The reader thread's epoll: its wake eventfd, and the socket unless a GPU worker reads it. */
    private final Epoll readerEpoll;
    private final Thread thread;
    // Reading replies: the reader thread, or a GPU worker given by readRepliesOn; one at a time (readLock).
    private final ReentrantLock readLock = new ReentrantLock();
    private final Message inbox = new Message(MAX_REPLY_PAYLOAD);
    private int inboxFill;
    /** Guards {@link #watch}. */
    private final Object watchLock = new Object();
    /** The worker's watch of the socket, while a worker reads replies. */
    private FdWatch watch;
    /** A worker reads replies: the reader thread leaves the socket alone. */
    private volatile boolean delegated;

    ReplyReader(final String name, final UnixSocket socket, final Owner owner) throws NativeException
    {
        this.name = name;
        this.socket = socket;
        this.fd = socket.fd();
        this.owner = owner;
        this.readerWake = EventFd.create();
        try
        {
            this.readerEpoll = Epoll.create(4);
            try
            {
                readerEpoll.add(readerWake.fd(), LibC.EPOLLIN, TOKEN_WAKE);
                readerEpoll.add(fd, LibC.EPOLLIN, TOKEN_SOCKET);
            }
            catch (final NativeException | RuntimeException e)
            {
                readerEpoll.close();
                throw e;
            }
        }
        catch (final NativeException | RuntimeException e)
        {
            readerWake.close();
            throw e;
        }
        this.thread = Thread.ofPlatform().daemon(true).name(name + "-display-reader")
            .unstarted(ThreadTop.guarded(name + ": display reader", this::readerLoop));
    }

    Thread thread()
    {
        return thread;
    }

    /**
     * Wakes the reader thread to look at the display's state again (it ends once the display is closed or gone).
     */
    void wake()
    {
        readerWake.signal();
    }

    /**
     * Reads QEMU's replies from now on on the thread {@code watcher} runs callbacks on (the GPU's control-queue
     * worker), which then completes a waiting command without a hand-over from this display's reader thread; null
     * gives reading back to the reader thread. Any thread; does nothing when the display is closed or gone.
     */
    void readRepliesOn(final FdWatcher watcher)
    {
        final FdWatch previous;
        synchronized (watchLock)
        {
            if (null != watcher)
            {
                if (null != watch || owner.isClosedOrGone())
                {
                    return;
                }
                FdWatch w = null;
                try
                {
                    w = watcher.watch(fd, this::readAvailable);
                }
                catch (final RuntimeException e)
                {
                    LOG.log(Level.WARNING, name + ": replies stay on the reader thread: " + e);
                }
                if (null != w)
                {
                    watch = w;
                    delegated = true;
                    readerWake.signal();
                }
                return;
            }
            previous = watch;
            watch = null;
            delegated = false;
        }
        if (null != previous)
        {
            previous.close();
            readerWake.signal();
        }
    }

    /**
     * @return true while a GPU worker reads QEMU's replies ({@link #readRepliesOn}).
     */
    boolean delegated()
    {
        return delegated;
    }

    private void readerLoop()
    {
        boolean watchingSocket = true;
        try
        {
            while (!owner.isClosedOrGone())
            {
                final boolean wanted = !delegated;
                if (wanted != watchingSocket)
                {
                    if (wanted)
                    {
                        readerEpoll.add(fd, LibC.EPOLLIN, TOKEN_SOCKET);
                    }
                    else
                    {
                        readerEpoll.remove(fd);
                    }
                    watchingSocket = wanted;
                }
                final int ready = readerEpoll.await(-1);
                for (int i = 0; i < ready; i++)
                {
                    if (readerEpoll.token(i) == TOKEN_SOCKET)
                    {
                        // A worker may have taken the replies over since this epoll_wait began (the socket is
                        // removed from this epoll only on the next turn): the socket is then the worker's alone.
                        if (!delegated)
                        {
                            readAvailable();
                        }
                    }
                    else
                    {
                        readerWake.drain();
                    }
                }
            }
        }
        catch (final NativeException | RuntimeException | Error e)
        {
            if (!owner.isClosed())
            {
                LOG.log(Level.ERROR, name + ": display reader failed: " + ThreadTop.describe(e));
                owner.gone("reader failed: " + e);
            }
        }
    }

    /**
     * Reads whatever QEMU has sent, without waiting, and handles every complete reply; a partly received one is
     * kept for the next call. On the reader thread or a GPU worker (one at a time). A worker is handed back to its
     * queues after {@value #MAX_REPLIES_PER_READ} replies: a flooding QEMU cannot keep it.
     */
    private void readAvailable()
    {
        // gone() ends a worker's watch, which waits for a running callback; that callback may be waiting for the
        // read lock. So the end is declared only after the lock is released.
        final String end;
        readLock.lock();
        try
        {
            end = readReplies();
        }
        finally
        {
            readLock.unlock();
        }
        if (null != end)
        {
            owner.gone(end);
        }
    }

    /**
     * @return why the display has ended, or null.
     */
    private String readReplies()
    {
        try
        {
            for (int replies = 0; replies < MAX_REPLIES_PER_READ; )
            {
                final long want = inboxFill < HEADER ? HEADER - inboxFill : HEADER + inbox.size() - inboxFill;
                if (want > 0)
                {
                    final long n = socket.receiveNow(inbox.buffer(), inboxFill, want, inbox.fds());
                    if (n == UnixSocket.WOULD_BLOCK)
                    {
                        return null;
                    }
                    if (n == 0)
                    {
                        return "QEMU closed the display socket";
                    }
                    inboxFill += (int)n;
                    if (inboxFill == HEADER && Integer.compareUnsigned(inbox.size(), MAX_REPLY_PAYLOAD) > 0)
                    {
                        return "QEMU sent " + GpuRequest.name(inbox.request()) + " with a payload of "
                            + Integer.toUnsignedString(inbox.size()) + " bytes (at most " + MAX_REPLY_PAYLOAD
                            + " expected)";
                    }
                    continue;
                }
                inboxFill = 0;
                replies++;
                final int fds = inbox.fds().count();
                inbox.fds().closeRemaining();
                if (fds > 0)
                {
                    LOG.log(Level.WARNING, name + ": closed " + fds + " unexpected descriptors that came with "
                        + GpuRequest.name(inbox.request()));
                }
                owner.onMessage(inbox);
            }
            return null;
        }
        catch (final NativeException e)
        {
            return "receive failed: " + e.getMessage();
        }
        catch (final RuntimeException e)
        {
            if (owner.isClosed())
            {
                return null;
            }
            LOG.log(Level.ERROR, name + ": reading QEMU's replies failed: " + e, e);
            return "reader failed: " + e;
        }
    }

    /**
     * Closes the reader thread's descriptors; only once it has ended.
     */
    @Override
    public void close()
    {
        readerEpoll.close();
        readerWake.close();
    }
}
