package io.jvhost.vhostuser.frontend;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.jvhost.os.LibC;
import io.jvhost.os.NativeException;
import io.jvhost.os.ThreadTop;
import io.jvhost.os.UnixSocket;
import io.jvhost.vhostuser.protocol.Message;
import io.jvhost.vhostuser.protocol.MessageHeader;
import io.jvhost.vhostuser.protocol.Payloads;
import io.jvhost.vhostuser.protocol.VhostUserConnection;

/**
 * The back-end request channel (SET_BACKEND_REQ_FD): a socket pair whose far end is handed to the back-end, and a
 * daemon thread that reads the back-end's requests on the near end, records them and answers those that ask for a
 * reply. BACKEND_CONFIG_CHANGE_MSG is counted ({@link #configChanges()}; a VMM would raise the guest's config
 * interrupt, after which the driver re-reads the config: {@link VirtioSession#awaitConfigChange}) and answered with
 * {@link #answerConfigChanges status 0} by default; every other request is refused (status 1), as a VMM that
 * implements none of them would.
 */
public final class BackendChannel implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(BackendChannel.class.getName());

    /** VHOST_USER_BACKEND_CONFIG_CHANGE_MSG. */
    public static final int CONFIG_CHANGE_MSG = io.jvhost.vhostuser.protocol.BackendRequest.CONFIG_CHANGE_MSG;
    /** {@link #answerConfigChanges}: read them but never answer (a front-end that does not answer). */
    public static final long NO_ANSWER = -1;

    /**
     * One request the back-end sent.
     *
     * @param request the request code.
     * @param flags   its header flags.
     * @param payload a copy of its payload.
     * @param fdCount descriptors that came with it (closed).
     */
    public record BackendRequest(int request, int flags, byte[] payload, int fdCount)
    {
    }

    private final UnixSocket near;
    private final VhostUserConnection connection;
    private final BlockingQueue<BackendRequest> received = new LinkedBlockingQueue<>();
    private final Thread thread;
    private final Object changes = new Object();
    private long configChanges;
    private volatile long configChangeAnswer;

    private BackendChannel(final UnixSocket near)
    {
        this.near = near;
        this.connection = new VhostUserConnection(near, true);
        this.thread = Thread.ofPlatform().daemon(true).name("vhost-user-backend-channel")
            .unstarted(ThreadTop.guarded("front-end: back-end channel", this::run));
    }

    /**
     * Creates the pair, sends the far end with SET_BACKEND_REQ_FD and starts serving the near end.
     */
    public static BackendChannel open(final VhostUserFrontend frontend) throws IOException
    {
        final int far;
        final BackendChannel channel;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(8, 4);
            LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds);
            channel = new BackendChannel(UnixSocket.adopt(fds.get(ValueLayout.JAVA_INT, 0)));
            far = fds.get(ValueLayout.JAVA_INT, 4);
        }
        try
        {
            frontend.setBackendReqFd(far);
        }
        catch (final IOException | RuntimeException e)
        {
            channel.close();
            throw e;
        }
        finally
        {
            // The back-end holds its own copy now. Only close our descriptor: a shutdown() would end the back-end's
            // side of the socket too.
            LibC.closeQuietly(far);
        }
        channel.thread.start();
        return channel;
    }

    /**
     * @return true while the back-end keeps its end of the channel open.
     */
    public boolean isConnected()
    {
        return thread.isAlive();
    }

    /**
     * @return the next request the back-end sent, waiting up to {@code timeoutMillis}, or null.
     */
    public BackendRequest poll(final long timeoutMillis) throws InterruptedException
    {
        return received.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * How CONFIG_CHANGE_MSG is answered when the back-end asks for an answer: {@code status} (0 = handled, as
     * vhost-user-base does; non-zero = not handled, as QEMU's vhost-user-gpu-pci does), or {@link #NO_ANSWER}.
     */
    public void answerConfigChanges(final long status)
    {
        configChangeAnswer = status;
    }

    /**
     * @return CONFIG_CHANGE_MSGs received so far.
     */
    public long configChanges()
    {
        synchronized (changes)
        {
            return configChanges;
        }
    }

    /**
     * Waits until at least {@code count} CONFIG_CHANGE_MSGs have arrived.
     *
     * @return false when {@code timeoutMillis} passed first.
     */
    public boolean awaitConfigChanges(final long count, final long timeoutMillis) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (changes)
        {
            while (configChanges < count)
            {
                final long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0)
                {
                    return false;
                }
                changes.wait(left);
            }
            return true;
        }
    }

    private void run()
    {
        final Message msg = new Message(MessageHeader.MAX_PAYLOAD);
        final Message reply = new Message(Payloads.U64_SIZE);
        try
        {
            while (connection.receive(msg))
            {
                final int fdCount = msg.fds().count();
                msg.fds().closeRemaining();
                received.add(new BackendRequest(msg.request(), msg.flags(),
                    msg.payload(0, msg.size()).toArray(ValueLayout.JAVA_BYTE), fdCount));
                final boolean configChange = msg.request() == CONFIG_CHANGE_MSG;
                final long answer = configChange ? configChangeAnswer : 1;
                if (msg.needsReply() && answer != NO_ANSWER)
                {
                    reply.header(msg.request(), MessageHeader.REPLY_FLAGS, Payloads.U64_SIZE).u64(0, answer);
                    connection.send(reply);
                }
                if (configChange)
                {
                    synchronized (changes)
                    {
                        configChanges++;
                        changes.notifyAll();
                    }
                }
            }
        }
        catch (final NativeException e)
        {
            if (!near.isClosed())
            {
                LOG.log(Level.DEBUG, "back-end channel closed: " + e.getMessage());
            }
        }
        catch (final IOException e)
        {
            LOG.log(Level.WARNING, "back-end channel broken: " + e.getMessage());
        }
        finally
        {
            msg.fds().closeRemaining();
        }
    }

    @Override
    public void close()
    {
        near.shutdown();
        if (Thread.currentThread() != thread && thread.isAlive())
        {
            try
            {
                thread.join(2000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }
        near.close();
    }
}
